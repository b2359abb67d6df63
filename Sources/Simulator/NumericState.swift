import Dispatch
import Foundation
import KernLang
import Numerics

#if os(Linux)
@_silgen_name("mallopt") func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// One dimension of a resolved slice: where it starts and how many indices it covers.
struct SliceDim: Sendable, Equatable { var start: Int64; var len: Int64 }

/// Where a numeric run's inputs come from and where its outputs go.
public struct NumericOptions: Sendable {
    public var seed: UInt64 = 0
    /// Tensor name -> values from a .npy file (shape checked against the declaration).
    public var inputs: [String: NPY.Array] = [:]
    /// Float64 arithmetic instead of Float32.
    public var accumulate64 = false
    /// Threads for the blocks of `parallel for` loops and for large matrix products; the
    /// values do not depend on it.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public init() {}
}

/// Values of HBM tensors and SRAM tiles for `--numeric` runs. The interpreter calls it at
/// every operation after doing its own shape and cost accounting. Between `beginBlock` and
/// `endBlock` the calls describe one block of a parallel loop: the engine may run them later,
/// on another thread, and reports their failures at `join`.
protocol NumericEngine: AnyObject {
    /// Whether blocks of parallel loops may run concurrently (more than one thread).
    var runsBlocksConcurrently: Bool { get }
    /// Blocks handed to worker threads so far.
    var blocksRunApart: Int { get }
    /// `initial`: the values the kernel gives the tensor (an --input file still wins).
    func allocTensor(_ id: Int, name: String, shape: [Int64], dtype: DType, role: TensorRole, initial: [Double]?) throws(NumericFailure)
    func load(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim])
    func gather(_ tile: Int32, tensor: Int, index: Int32, cols: Int64, at span: Span) throws(NumericFailure)
    func sinusoidal(_ tile: Int32, start: Int64, rows: Int64, cols: Int64)
    func scatter(_ tile: Int32, tensor: Int, index: Int32, cols: Int64, at span: Span) throws(NumericFailure)
    func store(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim])
    func elementwise(_ op: TileOp, result: Int32, rows: Int64, cols: Int64, operands: [NumericOperand])
    func update(_ op: TileOp, target: Int32, operand: NumericOperand)
    func matmul(result: Int32, a: Int32, aT: Bool, b: Int32, bT: Bool, m: Int64, k: Int64, n: Int64)
    func unaryTile(_ op: TileOp, result: Int32, source: Int32, rows: Int64, cols: Int64, params: TileOpParams, dtype: DType)
    func fill(_ tile: Int32, count: Int64, value: Double)
    /// A registered op's kernel on a (rows x cols) source; `count` values expected back.
    /// `label` names the op in a failure.
    func custom(result: Int32, source: Int32, rows: Int64, cols: Int64, count: Int64, label: String, at span: Span,
                kernel: @escaping @Sendable ([Double], Int, Int) -> [Double]) throws(NumericFailure)
    func free(_ tile: Int32)
    func tensorValues(_ id: Int) -> [Double]
    func beginBlock()
    func endBlock()
    /// Waits for every block handed over since the last join; the first failing block's
    /// (in block order) failure is thrown.
    func join() throws(NumericFailure)
}

enum NumericOperand: Sendable {
    case tile(Int32, rows: Int64, cols: Int64)
    case scalar(Double)
}

/// A numeric kernel's failure, with the statement it belongs to when it ran apart from it.
struct NumericFailure: Error {
    let message: String
    var span: Span?
}

/// HBM tensors' values, each in one allocation that never moves: blocks on different threads
/// load from it and store into their own parts of it without copies or locks.
final class TensorValues<T: NumericScalar>: @unchecked Sendable {
    let shape: [Int64]
    let format: StorageFormat
    let values: UnsafeMutableBufferPointer<T>
    init(shape: [Int64], format: StorageFormat, count: Int) {
        self.shape = shape
        self.format = format
        values = .allocate(capacity: count)
        values.initialize(repeating: 0)
    }
    deinit { values.deallocate() }
}

/// The run's tensors by id. Only the interpreter's thread adds to it, never while blocks run.
final class TensorTable<T: NumericScalar>: @unchecked Sendable {
    var byID: [Int: TensorValues<T>] = [:]
}

/// Generic over the arithmetic precision; `@_specialize` makes Float and Double copies of every
/// method, since calls through the `NumericEngine` protocol would otherwise run unspecialised
/// generic arithmetic (about 100x slower).
///
/// Outside parallel loops each call runs at once on the main `TileMachine`. Inside one (with
/// more than one thread) the calls of a block are recorded and the block runs on a worker with
/// a machine of its own, which starts from the main machine's tiles: blocks never share a tile,
/// read tensors only where no block of the loop writes, and store to their own slices (the
/// interpreter only hands over loops where that holds), so the values are those of a run on
/// one thread.
final class NumericState<T: NumericScalar>: NumericEngine {
    let options: NumericOptions
    let tensors = TensorTable<T>()
    let main: TileMachine<T>
    /// The block being recorded, and the blocks handed to workers since the last join.
    private var recording: [(TileMachine<T>) -> NumericFailure?]?
    private var handedOver = 0
    private(set) var blocksRunApart = 0
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    private let queue = DispatchQueue(label: "gpusim.numeric-blocks", attributes: .concurrent)
    /// Failures of blocks by block index (written by workers, read at join).
    private let failures = Failures()

    var runsBlocksConcurrently: Bool { options.threads > 1 }

    init(options: NumericOptions) {
        self.options = options
        main = TileMachine(tiles: [], tensors: tensors, blasThreads: Swift.max(1, options.threads))
        slots = DispatchSemaphore(value: Swift.max(1, options.threads))
        #if os(Linux)
        // Tiles of tens of MB are made and dropped in turn; keeping freed memory in the heap
        // avoids the kernel zeroing fresh pages for each one (a fifth of the run time).
        // glibc's M_TRIM_THRESHOLD is -1 and M_MMAP_THRESHOLD -3 (malloc.h is not in the Glibc module).
        _ = glibcMallopt(-3, 1 << 30)
        _ = glibcMallopt(-1, 1 << 30)
        #endif
    }

    deinit { group.wait() }

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
        let fmt = dtype.storageFormat
        let t = TensorValues<T>(shape: shape, format: fmt, count: count)
        let values = t.values
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
        tensors.byID[id] = t
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func tensorValues(_ id: Int) -> [Double] { tensors.byID[id].map { $0.values.map(\.double) } ?? [] }

    // MARK: blocks

    func beginBlock() {
        // Blocks already use the cores: their products run on one BLAS thread each (set here,
        // before any block runs, as the setting is global).
        if handedOver == 0 { LinearAlgebra.runOnCallerThreadsOnly() }
        recording = []
    }

    func endBlock() {
        guard let ops = recording else { return }
        recording = nil
        let index = handedOver
        handedOver += 1
        blocksRunApart += 1
        // The main machine's tiles as they are now (outer tiles a block reads); copy-on-write.
        let block = RecordedBlock(ops: ops, start: main.tiles, tensors: tensors)
        let failures = failures, slots = slots
        slots.wait()
        queue.async(group: group) {
            defer { slots.signal() }
            if let failure = block.run() { failures.record(index, failure) }
        }
    }

    func join() throws(NumericFailure) {
        guard handedOver > 0 else { return }
        group.wait()
        handedOver = 0
        if let first = failures.takeFirst() { throw first }
    }

    /// Runs `op` on the main machine now, or records it for the block being recorded.
    @inline(__always)
    private func run(_ op: @escaping (TileMachine<T>) -> Void) {
        if recording != nil { recording!.append { m in op(m); return nil } } else { op(main) }
    }

    /// `run` for an op that can fail: its failure is located at `span`.
    @inline(__always)
    private func runThrowing(_ span: Span, _ op: @escaping (TileMachine<T>) -> NumericFailure?) throws(NumericFailure) {
        let located = { (m: TileMachine<T>) -> NumericFailure? in
            op(m).map { NumericFailure(message: $0.message, span: $0.span ?? span) }
        }
        if recording != nil { recording!.append(located) } else if let failure = located(main) { throw failure }
    }

    // MARK: tile operations, forwarded

    private static func failure(_ body: () throws(NumericFailure) -> Void) -> NumericFailure? {
        do { try body() } catch { return error }
        return nil
    }

    func load(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim]) {
        run { $0.load(tile, tensor: tensor, shape: shape, dims: dims) }
    }
    func gather(_ tile: Int32, tensor: Int, index: Int32, cols: Int64, at span: Span) throws(NumericFailure) {
        try runThrowing(span) { m in Self.failure { () throws(NumericFailure) in try m.gather(tile, tensor: tensor, index: index, cols: cols) } }
    }
    func sinusoidal(_ tile: Int32, start: Int64, rows: Int64, cols: Int64) {
        run { $0.sinusoidal(tile, start: start, rows: rows, cols: cols) }
    }
    func scatter(_ tile: Int32, tensor: Int, index: Int32, cols: Int64, at span: Span) throws(NumericFailure) {
        try runThrowing(span) { m in Self.failure { () throws(NumericFailure) in try m.scatter(tile, tensor: tensor, index: index, cols: cols) } }
    }
    func store(_ tile: Int32, tensor: Int, shape: [Int64], dims: [SliceDim]) {
        run { $0.store(tile, tensor: tensor, shape: shape, dims: dims) }
    }
    func elementwise(_ op: TileOp, result: Int32, rows: Int64, cols: Int64, operands: [NumericOperand]) {
        run { $0.elementwise(op, result: result, rows: rows, cols: cols, operands: operands) }
    }
    func update(_ op: TileOp, target: Int32, operand: NumericOperand) {
        run { $0.update(op, target: target, operand: operand) }
    }
    func matmul(result: Int32, a: Int32, aT: Bool, b: Int32, bT: Bool, m: Int64, k: Int64, n: Int64) {
        run { $0.matmul(result: result, a: a, aT: aT, b: b, bT: bT, m: m, k: k, n: n) }
    }
    func unaryTile(_ op: TileOp, result: Int32, source: Int32, rows: Int64, cols: Int64, params: TileOpParams, dtype: DType) {
        run { $0.unaryTile(op, result: result, source: source, rows: rows, cols: cols, params: params, dtype: dtype) }
    }
    func fill(_ tile: Int32, count: Int64, value: Double) {
        run { $0.fill(tile, count: count, value: value) }
    }
    func custom(result: Int32, source: Int32, rows: Int64, cols: Int64, count: Int64, label: String, at span: Span,
                kernel: @escaping @Sendable ([Double], Int, Int) -> [Double]) throws(NumericFailure) {
        try runThrowing(span) { m in
            Self.failure { () throws(NumericFailure) in try m.custom(result: result, source: source, rows: rows, cols: cols, count: count, kernel: kernel) }
                .map { NumericFailure(message: "\(label): \($0.message)") }
        }
    }
    func free(_ tile: Int32) {
        run { $0.free(tile) }
    }
}

extension DType {
    /// How values are rounded when a tensor of this dtype stores them.
    var storageFormat: StorageFormat {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f8: .f8e4m3
        case .i8: .int(bits: 8)
        case .i4: .int(bits: 4)
        case .i32: .int(bits: 32)
        }
    }
}

/// One block's recorded calls, run by one worker on a machine of its own. Unchecked: the ops
/// capture only values and the tensor table, which no one changes while blocks run.
private final class RecordedBlock<T: NumericScalar>: @unchecked Sendable {
    let ops: [(TileMachine<T>) -> NumericFailure?]
    let start: [[T]]
    let tensors: TensorTable<T>
    init(ops: [(TileMachine<T>) -> NumericFailure?], start: [[T]], tensors: TensorTable<T>) {
        self.ops = ops
        self.start = start
        self.tensors = tensors
    }
    /// The first failure, which ends the block.
    func run() -> NumericFailure? {
        let machine = TileMachine(tiles: start, tensors: tensors, blasThreads: 1)
        for op in ops { if let failure = op(machine) { return failure } }
        return nil
    }
}

/// Failures of blocks that ran on workers, kept by block index so that the one reported is
/// the same whatever order the blocks finished in.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var byBlock: [Int: NumericFailure] = [:]
    func record(_ block: Int, _ f: NumericFailure) { lock.lock(); byBlock[block] = f; lock.unlock() }
    func takeFirst() -> NumericFailure? {
        lock.lock()
        defer { byBlock = [:]; lock.unlock() }
        return byBlock.keys.min().flatMap { byBlock[$0] }
    }
}
