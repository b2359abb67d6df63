import Foundation
import KernLang

/// Tile operations as the cost model sees them; each charges `weight x elements` FLOPs.
public enum TileOp: Int, CaseIterable, Sendable {
    case add, sub, mul, neg, max, min, abs, div, exp, log, sqrt, rsqrt, tanh, gelu, silu
    case rowmax, rowsum, rowmean, softmax, mask, alibi, cast, copy, transpose, fill, topk, gather
    case argtopk, top_p, sinusoidal, dispatch
    /// The op's name (events, weights): a static string, not reflection, since every event asks.
    public var key: String {
        switch self {
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .neg: "neg"
        case .max: "max"
        case .min: "min"
        case .abs: "abs"
        case .div: "div"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .rsqrt: "rsqrt"
        case .tanh: "tanh"
        case .gelu: "gelu"
        case .silu: "silu"
        case .rowmax: "rowmax"
        case .rowsum: "rowsum"
        case .rowmean: "rowmean"
        case .softmax: "softmax"
        case .mask: "mask"
        case .alibi: "alibi"
        case .cast: "cast"
        case .copy: "copy"
        case .transpose: "transpose"
        case .fill: "fill"
        case .topk: "topk"
        case .gather: "gather"
        case .argtopk: "argtopk"
        case .top_p: "top_p"
        case .sinusoidal: "sinusoidal"
        case .dispatch: "dispatch"
        }
    }
    /// Special-function-unit operations (weight above 1 in the seed), reported apart from plain ALU work.
    public var isSpecial: Bool { sfuOpsPerElement > 0 }
    /// Reductions across each row of a tile: what follows them waits for the whole row.
    public var reducesRows: Bool { self == .rowmax || self == .rowsum || self == .rowmean || self == .softmax }
    /// Operations per element on the special-function units (MUFU: ex2, rcp, rsqrt, sin, tanh):
    /// silu is an exp and a reciprocal, softmax one exp per element (its division is one
    /// reciprocal per row, then multiplies).
    public var sfuOpsPerElement: Int64 {
        switch self {
        case .silu: 2
        case .div, .exp, .log, .sqrt, .rsqrt, .tanh, .gelu, .softmax, .sinusoidal: 1
        default: 0
        }
    }
}

/// What a tile op needs besides its source tile: the positions, counts and values the kernel
/// passes (typed, so a numeric kernel reads a field, not an offset in a list).
enum TileOpParams {
    case none
    /// `mask_causal` / `mask_window`: where the tile starts in the score matrix, and the window.
    case mask(rowStart: Int64, colStart: Int64, window: Int64?)
    /// `alibi`: where the tile starts, and the head's slope.
    case alibi(rowStart: Int64, colStart: Int64, slope: Double)
    /// `topk` / `argtopk`: how many per row.
    case topk(Int64)
    /// `top_p`: the probability mass kept per row.
    case topP(Double)
    /// `dispatch` / `dispatch_gate` / `expert_load` over a route tile of expert ids.
    case route(Route)

    enum Route {
        /// The token ids routed to `expert`, up to `capacity` (-1 for empty slots).
        case ids(expert: Int64, capacity: Int64)
        /// The gates of the (token, choice) pairs routed to `expert`, from the `gates` tile.
        case gates(expert: Int64, capacity: Int64, gates: Int32)
        /// Tokens per expert over `experts` experts.
        case loads(experts: Int64)
    }
}

/// One row of the op table: how a tile-making builtin's result is shaped and typed, and what
/// it is charged. The interpreter (concrete sizes) and `gpusim complexity` (polynomials) both
/// read it, so a shape or cost rule is written once.
public struct OpSpec: Sendable {
    /// A result dimension: the source tile's, 1, or a number argument (by position).
    public enum Dim: Sendable { case sourceRows, sourceCols, one, arg(Int) }
    /// The result's dtype: the source's, a dtype argument (f32 when absent), or fixed.
    public enum Element: Sendable { case source, arg(Int), fixed(DType) }
    public enum Shape: Sendable {
        /// Elementwise over tiles and numbers: the larger operand's shape, the first tile's dtype;
        /// charged per result element.
        case broadcast
        /// A new tile (rows, cols, dtype from the arguments); charged per result element.
        case new(rows: Dim, cols: Dim, element: Element)
        /// A new tile whose rows are a tile range's length (argument `rows`); charged per element.
        case positions(rows: Int, cols: Dim, element: Element)
        /// An op on the tile in argument 0; charged per source element.
        case source(rows: Dim, cols: Dim, element: Element)
    }

    /// The FLOP weight charged (the preset's `flopWeights` key).
    public let cost: TileOp
    public let shape: Shape
    /// Whether it needs a scratch tile of its source's size while it runs (softmax, the seed's model).
    public let scratch: Bool
    /// The numeric kernel of a registered op: its (rows x cols) source's values, row-major, to
    /// the result's. Built-in ops have theirs in NumericState.
    public let kernel: (@Sendable (_ source: [Double], _ rows: Int, _ cols: Int) -> [Double])?

    init(_ cost: TileOp, _ shape: Shape, scratch: Bool = false) { self.cost = cost; self.shape = shape; self.scratch = scratch; kernel = nil }

    /// A registered op's row: charged as `cost`, shaped by `shape` (an op on the tile in
    /// argument 0), computed by `kernel`.
    public init(charged cost: TileOp, rows: Dim, cols: Dim, element: Element = .source,
                kernel: @escaping @Sendable (_ source: [Double], _ rows: Int, _ cols: Int) -> [Double]) {
        self.cost = cost; shape = .source(rows: rows, cols: cols, element: element); scratch = false; self.kernel = kernel
    }

    nonisolated(unsafe) static var registered: [Builtin: OpSpec] = [:]
    static let lock = NSLock()

    /// Adds an op to the language: its name and arity for the checker, its row of the table for
    /// the interpreter and `gpusim complexity`. Returns nil when the name is a built-in.
    @discardableResult
    public static func register(_ name: String, arity: ClosedRange<Int>, signature: String, _ spec: OpSpec) -> Builtin? {
        guard let b = Builtin.register(name, arity: arity, signature: signature) else { return nil }
        lock.lock(); defer { lock.unlock() }
        registered[b] = spec
        return b
    }

    static let same = Shape.source(rows: .sourceRows, cols: .sourceCols, element: .source)

    /// The table: every builtin that makes a tile.
    public static func of(_ b: Builtin) -> OpSpec? {
        switch b {
        case .exp: OpSpec(.exp, .broadcast)
        case .log: OpSpec(.log, .broadcast)
        case .sqrt: OpSpec(.sqrt, .broadcast)
        case .rsqrt: OpSpec(.rsqrt, .broadcast)
        case .tanh: OpSpec(.tanh, .broadcast)
        case .gelu: OpSpec(.gelu, .broadcast)
        case .silu: OpSpec(.silu, .broadcast)
        case .abs: OpSpec(.abs, .broadcast)
        case .max: OpSpec(.max, .broadcast)
        case .min: OpSpec(.min, .broadcast)
        case .zeros: OpSpec(.fill, .new(rows: .arg(0), cols: .arg(1), element: .arg(2)))
        case .full: OpSpec(.fill, .new(rows: .arg(0), cols: .arg(1), element: .arg(3)))
        case .sinusoidal: OpSpec(.sinusoidal, .positions(rows: 0, cols: .arg(1), element: .fixed(.f32)))
        case .rowmax: OpSpec(.rowmax, .source(rows: .sourceRows, cols: .one, element: .source))
        case .rowsum: OpSpec(.rowsum, .source(rows: .sourceRows, cols: .one, element: .source))
        case .rowmean: OpSpec(.rowmean, .source(rows: .sourceRows, cols: .one, element: .source))
        case .softmax: OpSpec(.softmax, same, scratch: true)
        case .copy: OpSpec(.copy, same)
        case .cast: OpSpec(.cast, .source(rows: .sourceRows, cols: .sourceCols, element: .arg(1)))
        case .transpose: OpSpec(.transpose, .source(rows: .sourceCols, cols: .sourceRows, element: .source))
        case .mask_causal, .mask_window: OpSpec(.mask, same)
        case .alibi: OpSpec(.alibi, same)
        case .top_p: OpSpec(.top_p, same)
        case .topk: OpSpec(.topk, .source(rows: .sourceRows, cols: .arg(1), element: .source))
        case .argtopk: OpSpec(.argtopk, .source(rows: .sourceRows, cols: .arg(1), element: .fixed(.i32)))
        case .dispatch: OpSpec(.dispatch, .source(rows: .arg(2), cols: .one, element: .fixed(.i32)))
        case .dispatch_gate: OpSpec(.dispatch, .source(rows: .arg(3), cols: .one, element: .fixed(.f32)))
        case .expert_load: OpSpec(.dispatch, .source(rows: .one, cols: .arg(1), element: .fixed(.f32)))
        default:
            // Scalar functions have no row; registered ops have theirs.
            { lock.lock(); defer { lock.unlock() }; return registered[b] }()
        }
    }

    /// The result of a `.new`, `.positions` or `.source` op, in any arithmetic: `number(i)` is
    /// argument i as a size, `length(i)` the length of the tile range in argument i,
    /// `dtype(i)` argument i as a dtype (f32 when the call leaves it out).
    public func result<N, E: Error>(source: (rows: N, cols: N, dtype: DType)?, one: N,
                                    number: (Int) throws(E) -> N, length: (Int) throws(E) -> N,
                                    dtype: (Int) throws(E) -> DType) throws(E) -> (rows: N, cols: N, dtype: DType) {
        func dim(_ d: Dim) throws(E) -> N {
            switch d {
            case .sourceRows: source!.rows
            case .sourceCols: source!.cols
            case .one: one
            case .arg(let i): try number(i)
            }
        }
        func element(_ e: Element) throws(E) -> DType {
            switch e {
            case .source: source?.dtype ?? .f32
            case .arg(let i): try dtype(i)
            case .fixed(let d): d
            }
        }
        switch shape {
        case .broadcast: preconditionFailure("elementwise ops are shaped by broadcasting their operands")
        case .new(let r, let c, let e), .source(let r, let c, let e): return (try dim(r), try dim(c), try element(e))
        case .positions(let r, let c, let e): return (try length(r), try dim(c), try element(e))
        }
    }
}

/// The arithmetic cost rules are written in, so one rule serves a run (`IntegerCost`: whole
/// numbers) and `gpusim complexity` (polynomials in the kernel's parameters).
public protocol CostArithmetic {
    associatedtype Number
    func constant(_ v: Int64) -> Number
    func multiply(_ a: Number, _ b: Number) -> Number
    /// ceil(a / d) for a whole number d > 0.
    func divideRoundingUp(_ a: Number, by d: Int64) -> Number
}

/// Whole numbers, saturating at Int64.max (a caller that needs exactness checks for it).
public struct IntegerCost: CostArithmetic {
    public init() {}
    public func constant(_ v: Int64) -> Int64 { v }
    public func multiply(_ a: Int64, _ b: Int64) -> Int64 {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o ? .max : p
    }
    public func divideRoundingUp(_ a: Int64, by d: Int64) -> Int64 { a == .max ? .max : a / d + (a % d > 0 ? 1 : 0) }
}

/// The cost rules of a preset: bytes of a number of elements, FLOPs of tile ops and matmuls.
public struct CostRules<A: CostArithmetic> {
    public let gpu: GPUModel
    public let math: A
    /// FLOPs per element of each `TileOp`, by raw value: the preset's weights over the seed's.
    let weights: [Int64]

    public init(gpu: GPUModel, math: A) {
        self.gpu = gpu
        self.math = math
        weights = TileOp.allCases.map { Int64(gpu.flopWeights[$0.key] ?? GPUModel.seedWeights[$0.key] ?? 1) }
    }

    /// Bytes of `n` elements of `dtype`: the seed's fixed element size, or the dtype's bits
    /// rounded up to whole bytes (sub-byte dtypes such as i4 pack two to a byte).
    public func bytes(elements n: A.Number, _ dtype: DType) -> A.Number {
        if let e = gpu.elementBytes { return math.multiply(n, math.constant(Int64(e))) }
        if dtype.bits % 8 == 0 { return math.multiply(n, math.constant(Int64(dtype.bits / 8))) }
        return math.divideRoundingUp(math.multiply(n, math.constant(Int64(dtype.bits))), by: 8)
    }

    public func weight(_ op: TileOp) -> Int64 { weights[op.rawValue] }

    /// FLOPs of `op` over `n` elements.
    public func flops(_ op: TileOp, elements n: A.Number) -> A.Number { math.multiply(n, math.constant(weight(op))) }

    /// FLOPs of an (m x k) @ (k x n) matmul: a multiply and an add per term.
    public func matmulFlops(m: A.Number, n: A.Number, k: A.Number) -> A.Number {
        math.multiply(math.constant(2), math.multiply(math.multiply(m, n), k))
    }
}
