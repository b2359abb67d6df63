import Foundation
import KernLang
import Simulator

/// Where data lives and moves in one kernel: HBM tensors, SRAM tiles and operations, loops as
/// clusters with trip counts, edges with bytes per execution and in total. Built from the
/// checked program (structure) and a statement profile (what each statement did in a run).
public struct DataflowGraph: Sendable {
    public enum NodeKind: String, Sendable { case tensor, tile, op }
    public enum EdgeKind: String, Sendable { case load, store, operand, result }

    public struct Node: Sendable {
        public var id: String
        public var kind: NodeKind
        public var label: String
        public var cluster: Int?
    }
    public struct Edge: Sendable {
        public var from: String
        public var to: String
        public var kind: EdgeKind
        public var label: String
        public var totalBytes: Int64
    }
    public struct Cluster: Sendable {
        public var id: Int
        public var parent: Int?
        public var label: String
    }

    public var title: String
    public var nodes: [Node] = []
    public var edges: [Edge] = []
    public var clusters: [Cluster] = []

    /// "kernel on gpu: DRAM traffic (what HBM served) of the bytes requested, peak SRAM" — the
    /// same from a live run and from its trace. The edges' bytes are requested bytes: where an
    /// L2 serves some of them, the title gives their total too.
    public static func title(_ s: RunSummary) -> String {
        var requested = ""
        if let r = s.l2?.read_bytes, let w = s.l2?.write_bytes { requested = " of \(fmtBytes(r + w)) requested" }
        return "\(s.kernel) on \(s.gpu): DRAM traffic \(fmtBytes(s.hbm.total_bytes))\(requested), peak SRAM \(fmtBytes(s.sram.peak_bytes))"
    }

    public init(program: CheckedProgram, profile: StatementProfile, title: String) {
        self.title = title
        var builder = Builder(kernel: program.entryKernel, profile: profile, program: program)
        builder.block(program.entryKernel.body, cluster: nil, parentIterations: 1)
        nodes = builder.nodes
        edges = builder.edges
        clusters = builder.clusters
    }

    struct Builder {
        let kernel: CheckedKernel
        let profile: StatementProfile
        let program: CheckedProgram
        var nodes: [Node] = []
        var edges: [Edge] = []
        var clusters: [Cluster] = []
        var seen: Set<String> = []
        /// Slot -> the tile node currently bound to it.
        var tileNode: [Int: String] = [:]

        mutating func node(_ id: String, _ kind: NodeKind, _ label: String, _ cluster: Int?) {
            guard seen.insert(id).inserted else { return }
            nodes.append(Node(id: id, kind: kind, label: label, cluster: cluster))
        }

        func source(_ span: Span) -> String {
            let text = span.file.text(span).split(separator: "\n").first.map(String.init) ?? ""
            return text.trimmingCharacters(in: .whitespaces)
        }

        func traffic(_ s: StatementProfile.Stat) -> String {
            guard s.count > 0 else { return "not run" }
            return s.count == 1 ? fmtBytes(s.bytes) : "\(fmtBytes(s.bytes / s.count)) x \(s.count) = \(fmtBytes(s.bytes))"
        }

        mutating func tile(_ slot: Int, _ cluster: Int?) -> String {
            if let id = tileNode[slot] { return id }
            let id = "tile_\(kernel.slotNames[slot])_\(slot)"
            node(id, .tile, kernel.slotNames[slot], cluster)
            tileNode[slot] = id
            return id
        }

        func tensorLabel(_ name: String, _ role: TensorRole) -> String {
            var label = "\(name)\n\(role.rawValue)"
            if let b = profile.tensorBytes[name] { label += ", \(fmtBytes(b))" }
            return label
        }

        /// The tiles an expression reads, in source order.
        static func tileSlots(_ e: RExpr) -> [Int] {
            var out: [Int] = []
            IRWalk.inspect(e) { n in
                guard case .expr(let x) = n else { return true }
                if case .rangeMember = x.kind { return false }   // a tile range's members are numbers
                if case .local(let s) = x.kind, x.isTile { out.append(s) }
                return true
            }
            return out
        }

        mutating func op(_ s: RStmt, operands: [Int], cluster: Int?) -> String {
            let stat = profile.stat(within: s.span)
            let id = "op_\(s.span.start)"
            var label = source(s.span)
            if stat.flops > 0 { label += "\n\(fmtFlops(stat.flops))" + (stat.count > 1 ? " (x \(stat.count))" : "") }
            node(id, .op, label, cluster)
            for slot in Set(operands).sorted() {
                edges.append(Edge(from: tile(slot, cluster), to: id, kind: .operand, label: "", totalBytes: 0))
            }
            return id
        }

        mutating func block(_ b: RBlock, cluster: Int?, parentIterations: Int64) {
            for s in b.stmts { stmt(s, cluster: cluster, parentIterations: parentIterations) }
        }

        mutating func stmt(_ s: RStmt, cluster: Int?, parentIterations: Int64) {
            switch s.kind {
            case .tensor(let index, let role, let name, _, _, _):
                node("hbm_\(index)", .tensor, tensorLabel(name, role), nil)
            case .loop(_, _, _, _, let body, _), .repeatLoop(_, let body):
                let total = profile.iterationCount(of: s.span)
                let per = parentIterations > 0 && total % max(parentIterations, 1) == 0 ? total / max(parentIterations, 1) : total
                let header = source(s.span).replacingOccurrences(of: "{", with: "").trimmingCharacters(in: .whitespaces)
                let id = clusters.count
                clusters.append(Cluster(id: id, parent: cluster, label: "\(header)   x \(per)" + (per != total ? " (\(total) in all)" : "")))
                block(body, cluster: id, parentIterations: max(total, 1))
            case .ifStmt(_, let t, let e):
                block(t, cluster: cluster, parentIterations: parentIterations)
                if let e { block(e, cluster: cluster, parentIterations: parentIterations) }
            case .load(let slot, _, let ref):
                let stat = profile.stat(within: s.span)
                tileNode[slot] = nil
                let t = tile(slot, cluster)
                edges.append(Edge(from: "hbm_\(ref.tensor)", to: t, kind: .load, label: "load " + traffic(stat), totalBytes: stat.bytes))
            case .gather(let slot, _, let table, _, let index):
                let stat = profile.stat(within: s.span)
                tileNode[slot] = nil
                let t = tile(slot, cluster)
                for o in Self.tileSlots(index) { edges.append(Edge(from: tile(o, cluster), to: t, kind: .operand, label: "ids", totalBytes: 0)) }
                edges.append(Edge(from: "hbm_\(table)", to: t, kind: .load, label: "gather " + traffic(stat), totalBytes: stat.bytes))
            case .assign(let slot, _, let e):
                let operands = Self.tileSlots(e)
                if case .local(let src) = e.kind, e.isTile {
                    // A move: the name now refers to the same tile.
                    tileNode[slot] = tile(src, cluster)
                    return
                }
                let o = op(s, operands: operands, cluster: cluster)
                tileNode[slot] = nil
                edges.append(Edge(from: o, to: tile(slot, cluster), kind: .result, label: "", totalBytes: 0))
            case .update(let slot, _, _, let e):
                let target = tile(slot, cluster)
                let o = op(s, operands: Self.tileSlots(e) + [slot], cluster: cluster)
                edges.append(Edge(from: o, to: target, kind: .result, label: "", totalBytes: 0))
            case .store(let e, let ref):
                let stat = profile.stat(within: s.span)
                let from: String
                if case .local(let slot) = e.kind { from = tile(slot, cluster) } else { from = op(s, operands: Self.tileSlots(e), cluster: cluster) }
                edges.append(Edge(from: from, to: "hbm_\(ref.tensor)", kind: .store, label: "store " + traffic(stat), totalBytes: stat.bytes))
            case .scatter(let e, let table, _, let index):
                // Adds into rows of the table: a read and a write of those rows.
                let stat = profile.stat(within: s.span)
                let from: String
                if case .local(let slot) = e.kind { from = tile(slot, cluster) } else { from = op(s, operands: Self.tileSlots(e), cluster: cluster) }
                for o in Self.tileSlots(index) { edges.append(Edge(from: tile(o, cluster), to: from, kind: .operand, label: "ids", totalBytes: 0)) }
                edges.append(Edge(from: from, to: "hbm_\(table)", kind: .store, label: "scatter-add " + traffic(stat), totalBytes: stat.bytes))
            case .launch(let k, let name, _, let tensors):
                let stat = profile.stat(within: s.span)
                let id = "op_\(s.span.start)"
                node(id, .op, "run \(name)" + (stat.count > 1 ? "   x \(stat.count)" : ""), cluster)
                // Bound tensors: what the launched kernel reads flows in, what it writes flows out.
                let callee = program.kernels[k]
                for (calleeIndex, callerIndex, _) in tensors {
                    let t = callee.tensors[calleeIndex]
                    if t.role == .input {
                        edges.append(Edge(from: "hbm_\(callerIndex)", to: id, kind: .load, label: t.name, totalBytes: 0))
                    } else {
                        edges.append(Edge(from: id, to: "hbm_\(callerIndex)", kind: .store, label: t.name, totalBytes: 0))
                    }
                }
            case .param, .free, .freeTensors, .require, .collective, .setting:
                break
            }
        }

    }
}

public func fmtFlops(_ f: Int64) -> String {
    let v = Double(f)
    for (scale, unit) in [(1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP")] where v >= scale {
        return String(format: "%.3g %@", v / scale, unit)
    }
    return "\(f) FLOP"
}
