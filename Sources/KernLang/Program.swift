/// The checked program: names resolved to frame slots, kinds known, frees placed.
/// The interpreter walks this, never the raw AST.

public enum RangeMember: String, Sendable { case start, end, len }
public enum TileMember: String, Sendable { case rows, cols }

public indirect enum RExprKind: Sendable {
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case dtype(DType)
    case local(Int)
    case gpu(GPUFact)
    case rangeMember(RExpr, RangeMember)
    case tileMember(RExpr, TileMember)
    /// `X.T`: a transposed view, legal only as a matmul operand.
    case transposed(RExpr)
    case call(Builtin, [RExpr])
    case unary(UnaryOp, RExpr)
    case binary(BinaryOp, RExpr, RExpr)
}

public struct RExpr: Sendable {
    public let kind: RExprKind
    public let span: Span
    /// True when the expression yields an SRAM tile (computed ops), false for scalars/ranges.
    public let isTile: Bool
}

public enum RSlice: Sendable {
    case all
    /// An integer index (drops the dimension) or a tile-range value.
    case index(RExpr)
    case range(RExpr, RExpr)
}

public struct RTensorRef: Sendable {
    public let tensor: Int
    public let name: String
    public let slices: [RSlice]?
    public let span: Span
}

public enum RLoopDomain: Sendable {
    case tiles(extent: RExpr, size: RExpr)
    case range(from: RExpr, to: RExpr, step: RExpr?)
}

/// Whether a loop's full iterations cost alike: its variable only selects slices (or gives
/// `.len`), except perhaps in `guards`, the conditions of `if`s that read it. Those are decided
/// when the loop starts, with the parameters known: each must come out the same for every
/// iteration (`causal == 0 || j.start < i.end` with causal = 0 is always true).
public struct Uniformity: Sendable {
    public var uniform: Bool
    public var guards: [RExpr]
    public init(uniform: Bool, guards: [RExpr] = []) { self.uniform = uniform; self.guards = guards }
}

public indirect enum RStmtKind: Sendable {
    case param(slot: Int, name: String, RExpr)
    case tensor(index: Int, role: TensorRole, name: String, shape: [RExpr], dtype: RExpr, values: [RExpr]?)
    /// `uniform`: whether every full iteration costs the same, so the interpreter may
    /// fast-forward through them (see `Uniformity`).
    case loop(parallel: Bool, slot: Int, name: String, domain: RLoopDomain, body: RBlock, uniform: Uniformity)
    case ifStmt(RExpr, then: RBlock, else: RBlock?)
    case load(slot: Int, name: String, RTensorRef)
    case gather(slot: Int, name: String, table: Int, tableName: String, index: RExpr)
    case assign(slot: Int, name: String, RExpr)
    case update(slot: Int, name: String, UpdateOp, RExpr)
    case store(RExpr, RTensorRef)
    case scatter(RExpr, table: Int, tableName: String, index: RExpr)
    case free([Int])
    /// `free S` of scratch tensors: their HBM is released (peak HBM then follows lifetimes).
    case freeTensors([Int], names: [String])
    case require(RExpr, message: String)
    case repeatLoop(count: RExpr, body: RBlock)
    /// `tensors`: callee tensor (position in its declarations), caller tensor, and the fixed leading indices of a view.
    case launch(kernel: Int, name: String, params: [(slot: Int, name: String, value: RExpr)], tensors: [(callee: Int, caller: Int, indices: [RExpr])])
    case collective(Collective, RTensorRef, gpus: RExpr)
    case setting(KernelSetting, RExpr)
}

public struct RStmt: Sendable {
    public let kind: RStmtKind
    public let span: Span
    /// Tile slots to free right after this statement (automatic freeing after last use).
    public var freeAfter: [Int]
}

public struct RBlock: Sendable {
    public var stmts: [RStmt]
    /// Tile slots first bound in this block: freed when the block (or a loop iteration) ends.
    public var locals: [Int]
}

public struct KernelParam: Sendable {
    public let name: String
    public let slot: Int
    public let span: Span
}

public struct CheckedKernel: Sendable {
    public let name: String
    public let doc: [String]
    public let span: Span
    public let body: RBlock
    public let slotNames: [String]
    public let tensorNames: [String]
    public let params: [KernelParam]
    public let tensors: [(name: String, role: TensorRole, index: Int)]

    /// Parameters whose default is a plain value (a number, a boolean or a dtype), not a rule
    /// over others: the problem's sizes and types, as opposed to the tile sizes an algorithm
    /// derives from them.
    public var literalParams: Set<String> {
        var out = Set<String>()
        for s in body.stmts {
            guard case .param(_, let name, let value) = s.kind else { continue }
            switch value.kind {
            case .int, .float, .bool, .dtype: out.insert(name)
            default: break
            }
        }
        return out
    }
}

public struct CheckedProgram: Sendable {
    public let kernels: [CheckedKernel]
    /// The kernel `gpusim run` starts from.
    public let entry: Int
    public let files: [SourceFile]
    public var entryKernel: CheckedKernel { kernels[entry] }

    /// The program's files by id: 0 is the entry kernel's, then the others as imported. Events
    /// and profiles carry the id, so statements of two files at the same line and column
    /// stay apart.
    public var filesByID: [SourceFile] {
        let main = entryKernel.span.file
        return [main] + files.filter { $0 !== main }
    }

    public func fileID(of file: SourceFile) -> Int { filesByID.firstIndex { $0 === file } ?? 0 }
}
