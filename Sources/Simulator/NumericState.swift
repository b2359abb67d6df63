import Foundation
import KernLang
import Numerics

#if os(Linux)
@_silgen_name("mallopt") func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// One dimension of a resolved slice: where it starts and how many indices it covers.
struct SliceDim { var start: Int64; var len: Int64 }

/// Where a numeric run's inputs come from and where its outputs go.
public struct NumericOptions: Sendable {
    public var seed: UInt64 = 0
    /// Tensor name -> values from a .npy file (shape checked against the declaration).
    public var inputs: [String: NPY.Array] = [:]
    /// Float64 arithmetic instead of Float32.
    public var accumulate64 = false
    public init() {}
}

/// Values of HBM tensors and SRAM tiles for `--numeric` runs. The interpreter calls it at
/// every operation after doing its own shape and cost accounting.
protocol NumericEngine: AnyObject {
    /// `initial`: the values the kernel gives the tensor (an --input file still wins).
    func allocTensor(_ id: Int, name: String, shape: [Int64], dtype: DType, role: TensorRole, initial: [Double]?) throws(NumericFailure)
    func load(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim])
    func gather(_ tile: Int32, tensor: Int, index: Int32, cols: Int64) throws(NumericFailure)
    func sinusoidal(_ tile: Int32, start: Int64, rows: Int64, cols: Int64)
    func scatter(_ tile: Int32, tensor: Int, index: Int32, cols: Int64) throws(NumericFailure)
    func store(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim])
    func elementwise(_ op: TileOp, result: Int32, rows: Int64, cols: Int64, operands: [NumericOperand])
    func update(_ op: TileOp, target: Int32, operand: NumericOperand)
    func matmul(result: Int32, a: Int32, aT: Bool, b: Int32, bT: Bool, m: Int64, k: Int64, n: Int64)
    func unaryTile(_ op: TileOp, result: Int32, source: Int32, rows: Int64, cols: Int64, params: TileOpParams, dtype: DType)
    func fill(_ tile: Int32, count: Int64, value: Double)
    /// A registered op's kernel on a (rows x cols) source; `count` values expected back.
    func custom(result: Int32, source: Int32, rows: Int64, cols: Int64, count: Int64,
                kernel: @Sendable ([Double], Int, Int) -> [Double]) throws(NumericFailure)
    func free(_ tile: Int32)
    func tensorValues(_ id: Int) -> [Double]
}

enum NumericOperand {
    case tile(Int32, rows: Int64, cols: Int64)
    case scalar(Double)
}

struct NumericFailure: Error { let message: String }

/// Generic over the arithmetic precision; `@_specialize` makes Float and Double copies of every
/// method, since calls through the `NumericEngine` protocol would otherwise run unspecialised
/// generic arithmetic (about 100x slower).
final class NumericState<T: NumericScalar>: NumericEngine {
    var tensors: [Int: (shape: [Int64], format: StorageFormat, values: [T])] = [:]
    var tiles: [[T]] = []
    let options: NumericOptions

    init(options: NumericOptions) {
        self.options = options
        #if os(Linux)
        // Tiles of tens of MB are made and dropped in turn; keeping freed memory in the heap
        // avoids the kernel zeroing fresh pages for each one (a fifth of the run time).
        // glibc's M_TRIM_THRESHOLD is -1 and M_MMAP_THRESHOLD -3 (malloc.h is not in the Glibc module).
        _ = glibcMallopt(-3, 1 << 30)
        _ = glibcMallopt(-1, 1 << 30)
        #endif
    }

    static func format(_ d: DType) -> StorageFormat {
        switch d {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f8: .f8e4m3
        case .i8: .int(bits: 8)
        case .i4: .int(bits: 4)
        case .i32: .int(bits: 32)
        }
    }

    /// A stable per-tensor seed, so that the same input name gets the same values in two kernels.
    static func seed(_ base: UInt64, _ name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h ^ base
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func allocTensor(_ id: Int, name: String, shape: [Int64], dtype: DType, role: TensorRole, initial: [Double]?) throws(NumericFailure) {
        let count = Int(shape.reduce(1, *))
        let fmt = Self.format(dtype)
        var values = [T](repeating: 0, count: count)
        if let given = options.inputs[name] {
            guard given.shape.map(Int64.init) == shape else {
                throw NumericFailure(message: "--input \(name): the file has shape \(given.shape), the kernel declares \(shape)")
            }
            for i in 0..<count { values[i] = T(Double(fmt.round(Float(given.values[i])))) }
        } else if let initial {
            // Reference runs keep full precision in f32 tensors (as store does).
            let keepFull = T.self == Double.self && { if case .f32 = fmt { return true }; return false }()
            for i in 0..<count { values[i] = keepFull ? T(initial[i]) : T(Double(fmt.round(Float(initial[i])))) }
        } else if role.startsFilled {
            var rng = SeededRandom(seed: Self.seed(options.seed, name))
            for i in 0..<count {
                let x: Double
                switch dtype {
                case .i32: x = Double(rng.next() % 1024)          // token ids: 0 ..< 1024
                case .i8, .i4: x = (rng.normal() * 3).rounded()  // quantised weights: small signed integers
                default: x = rng.normal()
                }
                values[i] = T(Double(fmt.round(Float(x))))
            }
        }
        tensors[id] = (shape, fmt, values)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func tensorValues(_ id: Int) -> [Double] { tensors[id]?.values.map(\.double) ?? [] }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func ensure(_ tile: Int32, _ count: Int) {
        let i = Int(tile)
        while tiles.count <= i { tiles.append([]) }
        if tiles[i].count != count { tiles[i] = [T](repeating: 0, count: count) }
    }

    /// Calls `body(offset, run)` for each contiguous run of the slice in the tensor, in row-major order.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func forEachRun(shape: [Int64], dims: [SliceDim], _ body: (Int, Int) -> Void) {
        let r = shape.count
        var strides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * Int(shape[d + 1]) }
        let run = Int(dims[r - 1].len)
        var idx = [Int](repeating: 0, count: r)
        while true {
            var off = Int(dims[r - 1].start)
            for d in 0..<(r - 1) { off += (Int(dims[d].start) + idx[d]) * strides[d] }
            body(off, run)
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                if idx[d] < Int(dims[d].len) { break }
                idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func load(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim]) {
        guard let t = tensors[tensor] else { return }
        ensure(tile, Int(dims.reduce(1) { $0 * $1.len }))
        var out = tiles[Int(tile)]
        tiles[Int(tile)] = []
        var pos = 0
        out.withUnsafeMutableBufferPointer { o in
            t.values.withUnsafeBufferPointer { v in
                forEachRun(shape: shape, dims: dims) { off, run in
                    (o.baseAddress! + pos).update(from: v.baseAddress! + off, count: run)
                    pos += run
                }
            }
        }
        tiles[Int(tile)] = out
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func store(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim]) {
        guard var t = tensors[tensor] else { return }
        tensors[tensor] = nil
        let src = tiles[Int(tile)]
        var pos = 0
        forEachRun(shape: shape, dims: dims) { off, run in
            for i in 0..<run { t.values[off + i] = T(Double(t.format.round(Float(src[pos + i].double)))) }
            pos += run
        }
        if case .f32 = t.format, T.self == Double.self {
            // Reference runs keep full precision in f32 tensors.
            pos = 0
            forEachRun(shape: shape, dims: dims) { off, run in
                for i in 0..<run { t.values[off + i] = src[pos + i] }
                pos += run
            }
        }
        tensors[tensor] = t
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func gather(_ tile: Int32, tensor: Int, index: Int32, cols: Int64) throws(NumericFailure) {
        guard let t = tensors[tensor] else { return }
        let ids = tiles[Int(index)]
        let c = Int(cols)
        ensure(tile, ids.count * c)
        for (r, v) in ids.enumerated() {
            let row = Self.index(v)
            if row == -1 {   // an empty slot of a fixed-capacity dispatch: a zero row
                for j in 0..<c { tiles[Int(tile)][r * c + j] = 0 }
                continue
            }
            guard row >= 0 && Int64(row) < t.shape[0] else {
                throw NumericFailure(message: "gather index \(row) is outside the table's \(t.shape[0]) rows")
            }
            for j in 0..<c { tiles[Int(tile)][r * c + j] = t.values[row * c + j] }
        }
    }

    /// An id held in a tile as an integer; a value that is not one (NaN, infinite, huge)
    /// becomes an index no table has, which the callers report.
    static func index(_ v: T) -> Int {
        let d = v.double.rounded()
        return d.isFinite && abs(d) < 1e15 ? Int(d) : Int.min
    }

    /// Adds row r of the tile into row ids[r] of the tensor (rounded to its dtype); -1 skips.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func scatter(_ tile: Int32, tensor: Int, index: Int32, cols: Int64) throws(NumericFailure) {
        guard var t = tensors[tensor] else { return }
        tensors[tensor] = nil
        defer { tensors[tensor] = t }
        let ids = tiles[Int(index)], src = tiles[Int(tile)]
        let c = Int(cols)
        // Reference runs keep full precision in f32 tensors (as store does).
        var keepFull = false
        if case .f32 = t.format, T.self == Double.self { keepFull = true }
        for (r, v) in ids.enumerated() {
            let row = Self.index(v)
            if row == -1 { continue }
            guard row >= 0 && Int64(row) < t.shape[0] else {
                throw NumericFailure(message: "scatter index \(row) is outside the table's \(t.shape[0]) rows")
            }
            for j in 0..<c {
                let sum = t.values[row * c + j] + src[r * c + j]
                t.values[row * c + j] = keepFull ? sum : T(Double(t.format.round(Float(sum.double))))
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    @inline(__always) func apply(_ op: TileOp, _ x: T, _ y: T) -> T {
        switch op {
        case .add: x + y
        case .sub: x - y
        case .mul: x * y
        case .div: x / y
        case .max: x.isNaN || y.isNaN ? .nan : Swift.max(x, y)
        case .min: x.isNaN || y.isNaN ? .nan : Swift.min(x, y)
        default: x
        }
    }

    /// Calls `body` with the binary operation as a closure chosen once, outside the element
    /// loop: each case's loop is compiled separately and vectorises (a switch per element
    /// does not).
    @inline(__always) func withBinary(_ op: TileOp, _ body: ((T, T) -> T) -> Void) {
        switch op {
        case .add: body { $0 + $1 }
        case .sub: body { $0 - $1 }
        case .mul: body { $0 * $1 }
        case .div: body { $0 / $1 }
        default: body { self.apply(op, $0, $1) }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    @inline(__always) func apply(_ op: TileOp, _ x: T) -> T {
        switch op {
        case .neg: -x
        case .abs: Swift.abs(x)
        case .exp: T.exp(x)
        case .log: T.log(x)
        case .sqrt: x.squareRoot()
        case .rsqrt: 1 / x.squareRoot()
        case .tanh: T.tanh(x)
        case .gelu: x * (1 + T.erf(x / T(2.0.squareRoot()))) / 2
        case .silu: x / (1 + T.exp(-x))
        default: x
        }
    }

    /// Element (r, c) of an operand, broadcasting (rows x 1), (1 x cols) and scalars.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    @inline(__always) func value(_ o: NumericOperand, _ r: Int, _ c: Int) -> T {
        switch o {
        case .scalar(let v): return T(v)
        case .tile(let id, let rows, let cols):
            return tiles[Int(id)][(rows == 1 ? 0 : r) * Int(cols) + (cols == 1 ? 0 : c)]
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func elementwise(_ op: TileOp, result: Int32, rows: Int64, cols: Int64, operands: [NumericOperand]) {
        let R = Int(rows), C = Int(cols)
        // Every element is written below, so skip zero-filling the result.
        var out = [T](unsafeUninitializedCapacity: R * C) { _, n in n = R * C }
        out.withUnsafeMutableBufferPointer { o in
            if operands.count == 1 {
                if case .tile(let a, let ar, let ac) = operands[0], ar == rows, ac == cols {
                    tiles[Int(a)].withUnsafeBufferPointer { x in
                        if op == .exp { T.exp(x, into: o) } else { for i in 0..<(R * C) { o[i] = apply(op, x[i]) } }
                    }
                } else {
                    for r in 0..<R { for c in 0..<C { o[r * C + c] = apply(op, value(operands[0], r, c)) } }
                }
                return
            }
            // The full-shape operand first, then the other broadcast along rows, columns or as a scalar.
            guard case .tile(let a, let ar, let ac) = operands[0], ar == rows, ac == cols else {
                for r in 0..<R { for c in 0..<C { o[r * C + c] = apply(op, value(operands[0], r, c), value(operands[1], r, c)) } }
                return
            }
            tiles[Int(a)].withUnsafeBufferPointer { x in
                withBinary(op) { f in
                    switch operands[1] {
                    case .scalar(let v):
                        let y = T(v)
                        for i in 0..<(R * C) { o[i] = f(x[i], y) }
                    case .tile(let b, let br, let bc):
                        tiles[Int(b)].withUnsafeBufferPointer { y in
                            if br == rows && bc == cols { for i in 0..<(R * C) { o[i] = f(x[i], y[i]) } }
                            else if bc == 1 { for r in 0..<R { let v = y[br == 1 ? 0 : r]; for c in 0..<C { o[r * C + c] = f(x[r * C + c], v) } } }
                            else { for r in 0..<R { for c in 0..<C { o[r * C + c] = f(x[r * C + c], y[c]) } } }
                        }
                    }
                }
            }
        }
        ensure(result, 0)
        tiles[Int(result)] = out
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func update(_ op: TileOp, target: Int32, operand: NumericOperand) {
        let t = Int(target)
        var x = tiles[t]
        tiles[t] = []
        let n = x.count
        withBinary(op) { f in
            switch operand {
            case .scalar(let v):
                let s = T(v)
                x.withUnsafeMutableBufferPointer { xp in for i in 0..<n { xp[i] = f(xp[i], s) } }
            case .tile(let id, let rows, let ocols):
                tiles[Int(id)].withUnsafeBufferPointer { yp in
                    x.withUnsafeMutableBufferPointer { xp in
                        if yp.count == n { for i in 0..<n { xp[i] = f(xp[i], yp[i]) } }
                        else if ocols == 1 {
                            let C = n / Int(rows)
                            for r in 0..<Int(rows) { let s = yp[r]; for c in 0..<C { xp[r * C + c] = f(xp[r * C + c], s) } }
                        } else {
                            let C = Int(ocols)
                            for r in 0..<(n / C) { for c in 0..<C { xp[r * C + c] = f(xp[r * C + c], yp[c]) } }
                        }
                    }
                }
            }
        }
        tiles[t] = x
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func matmul(result: Int32, a: Int32, aT: Bool, b: Int32, bT: Bool, m: Int64, k: Int64, n: Int64) {
        let c = LinearAlgebra.matmul(tiles[Int(a)], transposeA: aT, tiles[Int(b)], transposeB: bT, m: Int(m), k: Int(k), n: Int(n))
        ensure(result, 0)
        tiles[Int(result)] = c
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func fill(_ tile: Int32, count: Int64, value: Double) {
        ensure(tile, 0)
        tiles[Int(tile)] = [T](repeating: T(value), count: Int(count))
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func free(_ tile: Int32) {
        if Int(tile) < tiles.count { tiles[Int(tile)] = [] }
    }
}
