/// The syntax tree: plain values, one case per construct, every node with its span.

public struct Ident: Sendable {
    public let name: String
    public let span: Span
    public init(_ name: String, _ span: Span) { self.name = name; self.span = span }
}

public indirect enum ExprKind: Sendable {
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case name(String)
    /// `gpu.sram_bytes`, `i.len`, `K.T`
    case member(Expr, Ident)
    case call(Ident, [Expr])
    case unary(UnaryOp, Expr)
    case binary(BinaryOp, Expr, Expr)
}

public enum UnaryOp: String, Sendable { case neg = "-", not = "!" }

public enum BinaryOp: String, Sendable, CaseIterable {
    case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", matmul = "@"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", and = "&&", or = "||"

    /// Binding power: higher binds tighter.
    public var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .eq, .ne, .lt, .le, .gt, .ge: 3
        case .add, .sub: 4
        case .mul, .div, .floorDiv, .mod: 5
        case .matmul: 6
        }
    }
}

public struct Expr: Sendable {
    public let kind: ExprKind
    public let span: Span
    public init(_ kind: ExprKind, _ span: Span) { self.kind = kind; self.span = span }
}

/// `weight`: a model parameter (counted by `gpusim params`); `cache`: persistent state such as a
/// KV cache (its token axis is the second-to-last dimension). Both start filled, like inputs.
public enum TensorRole: String, Sendable, CaseIterable {
    case input, output, scratch, weight, cache
    public var startsFilled: Bool { self == .input || self == .weight || self == .cache }
}

/// One dimension of a slice: `:` (all), an index or tile-range value, or `a ..< b`.
public enum SliceExpr: Sendable {
    case all(Span)
    case index(Expr)
    case range(Expr, Expr)
}

public struct TensorRef: Sendable {
    public let name: Ident
    /// nil: the whole tensor.
    public let slices: [SliceExpr]?
    public let span: Span
}

public enum UpdateOp: String, Sendable, CaseIterable {
    case add = "+=", sub = "-=", mul = "*=", div = "/=", max = "max=", min = "min="
}

public enum LoopDomain: Sendable {
    /// `tiles(N, Br)`: the variable is a tile range start ..< min(start + Br, N).
    case tiles(extent: Expr, size: Expr)
    /// `a ..< b [step s]`: the variable is an integer.
    case range(from: Expr, to: Expr, step: Expr?)
}

public struct NamedArg: Sendable {
    public let name: Ident
    public let value: Expr
    /// `W = Wq[l]`: a tensor passed with its leading dimensions fixed (a view), e.g. one layer's weights.
    public let indices: [Expr]?
}

public indirect enum StmtKind: Sendable {
    case param(Ident, Expr)
    /// `values`: an input's or weight's elements in row-major order (`= [1, 4, 2]`), used by numeric runs.
    case tensor(TensorRole, Ident, shape: [Expr], dtype: Ident, values: [Expr]?)
    case forLoop(parallel: Bool, variable: Ident, domain: LoopDomain, body: [Stmt])
    case ifStmt(Expr, then: [Stmt], else: [Stmt]?)
    case load(Ident, TensorRef)
    /// `X = gather E[ids]`: rows of an HBM table picked by an index tile.
    case gather(Ident, table: Ident, index: Expr)
    case assign(Ident, Expr)
    case update(Ident, UpdateOp, Expr)
    case store(Expr, TensorRef)
    /// `scatter Y -> T[ids]`: adds row r of a tile into row ids[r] of an HBM table (-1: skipped).
    case scatter(Expr, table: Ident, index: Expr)
    case free([Ident])
    case require(Expr, message: String)
    case repeatLoop(count: Expr, body: [Stmt])
    case launch(Ident, [NamedArg])
    /// `allreduce y across n` / `allgather y across n`: a collective over the interconnect
    /// among the n GPUs of a tensor-parallel group (see `Collective`).
    case collective(Collective, TensorRef, gpus: Expr)
    /// Free every tile right after its last use instead of at the end of its block.
    case autofree
    /// `target 80` or `warps 4`: a fact about how the kernel is built (see `KernelSetting`).
    case setting(KernelSetting, Expr)
}

/// What a kernel declares at its top about how it is built, once each.
public enum KernelSetting: String, Sendable, Hashable, CaseIterable {
    /// The compute capability (x 10) the kernel is built for; on a GPU with a newer tensor-core
    /// instruction path, its matmuls use the older one (FlashAttention-2's sm80 build runs
    /// Hopper's tensor cores through `mma.sync`, not `wgmma`).
    case target
    /// Warps per thread block (32 threads each): each step of a block (its start, and every
    /// iteration of a sequential loop in it) takes its SM some issue time per warp.
    case warps

    /// What the expression after the keyword is, for messages.
    public var meaning: String {
        switch self {
        case .target: "the compute capability x 10 the kernel is built for (target 80 for sm_80)"
        case .warps: "the warps of each thread block (warps 4 for 128 threads)"
        }
    }
}

/// Collectives between the GPUs of a tensor-parallel group, on an HBM tensor (or slice) y:
/// `allreduce` leaves every GPU the sum of all GPUs' y; `allgather` fills the n equal parts of
/// y (along its first dimension) that the n GPUs each wrote one of.
public enum Collective: String, Sendable, CaseIterable { case allreduce, allgather }

public struct Stmt: Sendable {
    public let kind: StmtKind
    public let span: Span
    public init(_ kind: StmtKind, _ span: Span) { self.kind = kind; self.span = span }
}

public struct Kernel: Sendable {
    public let name: Ident
    public let doc: [String]
    public let body: [Stmt]
    public let span: Span
}

public struct Import: Sendable {
    public let path: String
    public let span: Span
}

/// One parsed `.kern` file.
public struct SourceUnit: Sendable {
    public let file: SourceFile
    public let imports: [Import]
    public let kernels: [Kernel]
    /// Plain comments in source order (for `gpusim fmt`).
    public var comments: [Comment] = []
}
