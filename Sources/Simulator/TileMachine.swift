import Foundation
import KernLang
import Numerics

/// The tiles one thread of a numeric run works on, and the operations on them. Statements
/// outside parallel loops run on the run's main machine; a block of a parallel loop that runs
/// on a worker gets a machine of its own (see `NumericState`).
final class TileMachine<T: NumericScalar> {
    var tiles: [[T]]
    let tensors: TensorTable<T>
    /// BLAS threads a large product may use (1 on a block's machine: the blocks use the cores).
    let blasThreads: Int

    init(tiles: [[T]], tensors: TensorTable<T>, blasThreads: Int) {
        self.tiles = tiles
        self.tensors = tensors
        self.blasThreads = blasThreads
    }

    /// Puts `values` in tile slot `tile`.
    @inline(__always)
    func set(_ tile: Int32, _ values: [T]) {
        let i = Int(tile)
        while tiles.count <= i { tiles.append([]) }
        tiles[i] = values
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
        guard let t = tensors.byID[tensor] else { return }
        let count = Int(dims.reduce(1) { $0 * $1.len })
        let src = t.values.baseAddress!
        let out = [T](unsafeUninitializedCapacity: count) { o, n in
            var pos = 0
            forEachRun(shape: shape, dims: dims) { off, run in
                (o.baseAddress! + pos).initialize(from: src + off, count: run)
                pos += run
            }
            n = count
        }
        set(tile, out)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func store(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim]) {
        guard let t = tensors.byID[tensor] else { return }
        let dst = t.values.baseAddress!, fmt = t.format
        // f32 tensors take Float values as they are, and reference runs' values at full precision.
        var exact = false
        if case .f32 = fmt { exact = true }
        tiles[Int(tile)].withUnsafeBufferPointer { src in
            var pos = 0
            forEachRun(shape: shape, dims: dims) { off, run in
                if exact { (dst + off).update(from: src.baseAddress! + pos, count: run) }
                else { for i in 0..<run { dst[off + i] = T(Double(fmt.round(Float(src[pos + i].double)))) } }
                pos += run
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func gather(_ tile: Int32, tensor: Int, index: Int32, cols: Int64) throws(NumericFailure) {
        guard let t = tensors.byID[tensor] else { return }
        let ids = tiles[Int(index)]
        let c = Int(cols)
        var out = [T](repeating: 0, count: ids.count * c)
        for (r, v) in ids.enumerated() {
            let row = Self.index(v)
            if row == -1 { continue }   // an empty slot of a fixed-capacity dispatch: a zero row
            guard row >= 0 && Int64(row) < t.shape[0] else {
                throw NumericFailure(message: "gather index \(row) is outside the table's \(t.shape[0]) rows")
            }
            for j in 0..<c { out[r * c + j] = t.values[row * c + j] }
        }
        set(tile, out)
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
        guard let t = tensors.byID[tensor] else { return }
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
        case .add: AddKernel.apply(x, y)
        case .sub: SubKernel.apply(x, y)
        case .mul: MulKernel.apply(x, y)
        case .div: DivKernel.apply(x, y)
        case .max: MaxKernel.apply(x, y)
        case .min: MinKernel.apply(x, y)
        default: x
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

    /// `out[r, c] = op(x[r, c], y)` for a (R x C) x and y broadcast as its shape says: full, one
    /// value per row (rows x 1), one per column (1 x cols) or a single value (1 x 1). `out` may
    /// be `x` (an update in place).
    @inline(__always)
    static func combine(_ op: TileOp, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, yRows: Int, yCols: Int, rows: Int, cols: Int,
                        into o: UnsafeMutablePointer<T>) {
        switch op {
        case .add: combine(AddKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        case .sub: combine(SubKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        case .mul: combine(MulKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        case .div: combine(DivKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        case .max: combine(MaxKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        case .min: combine(MinKernel.self, x, y, yRows: yRows, yCols: yCols, rows: rows, cols: cols, into: o)
        default: if x != UnsafePointer(o) { o.update(from: x, count: rows * cols) }
        }
    }

    /// One loop per operation and broadcast (the operation a type, so each loop is compiled for
    /// it and vectorises); rows are walked through pointers, with no index arithmetic inside.
    @inline(__always)
    static func combine<K: BinaryKernel>(_ k: K.Type, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, yRows: Int, yCols: Int,
                                         rows R: Int, cols C: Int, into o: UnsafeMutablePointer<T>) {
        if yRows == R && yCols == C {
            for i in 0..<(R * C) { o[i] = K.apply(x[i], y[i]) }
        } else if yCols == 1 {
            for r in 0..<R {
                let v = y[yRows == 1 ? 0 : r], xr = x + r * C, or = o + r * C
                for c in 0..<C { or[c] = K.apply(xr[c], v) }
            }
        } else {
            for r in 0..<R {
                let xr = x + r * C, or = o + r * C
                for c in 0..<C { or[c] = K.apply(xr[c], y[c]) }
            }
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
        let out = [T](unsafeUninitializedCapacity: R * C) { o, n in
            n = R * C
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
                switch operands[1] {
                case .scalar(let v):
                    var y = T(v)
                    Self.combine(op, x.baseAddress!, &y, yRows: 1, yCols: 1, rows: 1, cols: R * C, into: o.baseAddress!)
                case .tile(let b, let br, let bc):
                    tiles[Int(b)].withUnsafeBufferPointer { y in
                        Self.combine(op, x.baseAddress!, y.baseAddress!, yRows: Int(br), yCols: Int(bc), rows: R, cols: C, into: o.baseAddress!)
                    }
                }
            }
        }
        set(result, out)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func update(_ op: TileOp, target: Int32, operand: NumericOperand) {
        let t = Int(target)
        var x = tiles[t]
        tiles[t] = []
        let n = x.count
        x.withUnsafeMutableBufferPointer { xb in
            guard let xp = xb.baseAddress else { return }
            switch operand {
            case .scalar(let v):
                var s = T(v)
                Self.combine(op, xp, &s, yRows: 1, yCols: 1, rows: 1, cols: n, into: xp)
            case .tile(let id, let rows, let ocols):
                tiles[Int(id)].withUnsafeBufferPointer { yb in
                    // A (rows x 1) or (1 x 1) operand gives the target's row length through n.
                    let C = ocols == 1 && yb.count != n ? n / Swift.max(1, Int(rows)) : Int(ocols)
                    Self.combine(op, xp, yb.baseAddress!, yRows: Int(rows), yCols: Int(ocols), rows: n / Swift.max(1, C), cols: C, into: xp)
                }
            }
        }
        tiles[t] = x
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func matmul(result: Int32, a: Int32, aT: Bool, b: Int32, bT: Bool, m: Int64, k: Int64, n: Int64) {
        set(result, LinearAlgebra.matmul(tiles[Int(a)], transposeA: aT, tiles[Int(b)], transposeB: bT,
                                         m: Int(m), k: Int(k), n: Int(n), maxThreads: blasThreads))
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func fill(_ tile: Int32, count: Int64, value: Double) {
        set(tile, [T](repeating: T(value), count: Int(count)))
    }

    func free(_ tile: Int32) {
        if Int(tile) < tiles.count { tiles[Int(tile)] = [] }
    }
}

/// A binary elementwise operation as a type (see `TileMachine.combine`).
protocol BinaryKernel { static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T }
enum AddKernel: BinaryKernel { @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x + y } }
enum SubKernel: BinaryKernel { @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x - y } }
enum MulKernel: BinaryKernel { @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x * y } }
enum DivKernel: BinaryKernel { @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x / y } }
/// max and min propagate NaN (as IEEE maximum does; Swift.max would drop it).
enum MaxKernel: BinaryKernel {
    @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x.isNaN || y.isNaN ? .nan : Swift.max(x, y) }
}
enum MinKernel: BinaryKernel {
    @inline(__always) static func apply<T: NumericScalar>(_ x: T, _ y: T) -> T { x.isNaN || y.isNaN ? .nan : Swift.min(x, y) }
}
