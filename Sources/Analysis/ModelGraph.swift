import Foundation
import KernLang
import Simulator

/// A model at the level of its launches (the default of `gpusim graph` for a kernel that
/// launches others): one node per launch statement, in execution order, with its time, DRAM
/// bytes and bound; loops as clusters with their trip counts; the tensors one launch hands to
/// a later one as edges. Launches of one kernel in a row that read the same activations (the
/// q, k and v projections) are one node listing their weights.
public struct ModelGraph: Sendable {
    public struct Node: Sendable, Equatable {
        public var id: String
        public var label: String
        /// Share of the run's kernel time (0 for HBM tensor nodes).
        public var timeShare: Double
        public var isTensor: Bool
        public var cluster: Int?
        /// A launch node's figures (nil for tensors): what it runs, where, how often, its time,
        /// DRAM bytes and bound, summed over its runs.
        public var launch: Launch?
    }
    public struct Launch: Sendable, Equatable {
        public var what: String
        public var line: Int
        public var runs: Int64
        public var seconds: Double
        public var dramBytes: Int64
        public var bound: Bound?
    }
    public struct Edge: Sendable, Equatable {
        public var from: String
        public var to: String
        public var label: String
    }

    public var title: String
    /// What the picture's shapes and numbers mean.
    public let legend = "boxes: launches (time, share, DRAM bytes, bound; darker: more time); edges: tensors handed on"
    public var nodes: [Node] = []
    public var edges: [Edge] = []
    public var clusters: [DataflowGraph.Cluster] = []

    /// Whether a kernel launches others (a model): its graph is drawn at the launch level.
    public static func applies(to program: CheckedProgram) -> Bool {
        IRWalk.contains(program.entryKernel.body) { n in
            if case .stmt(let s) = n, case .launch = s.kind { return true }
            return false
        }
    }

    public init(program: CheckedProgram, profile: StatementProfile, summary: RunSummary) {
        var b = Builder(program: program, profile: profile, summary: summary)
        b.block(program.entryKernel.body, cluster: nil)
        b.flush()
        let launches = profile.launches.values.reduce(0) { $0 + $1.count }
        title = "\(summary.kernel) on \(summary.gpu): \(launches) launches, \(fmtSeconds(summary.time.total)), DRAM traffic \(fmtBytes(summary.hbm.total_bytes))"
        nodes = b.nodes
        edges = b.edges
        clusters = b.clusters
    }

    struct Builder {
        let program: CheckedProgram
        let profile: StatementProfile
        let summary: RunSummary
        var nodes: [Node] = []
        var edges: [Edge] = []
        var clusters: [DataflowGraph.Cluster] = []
        /// The entry's tensor (by local index) -> the node that last wrote it.
        var writer: [Int: String] = [:]
        /// Launch statements of one kernel in a row, reading the same activations: one node.
        var group: [RStmt] = []
        var groupCluster: Int?

        var entry: CheckedKernel { program.entryKernel }

        /// The entry's tensor declared at local index `local`.
        func declared(_ local: Int) -> (name: String, role: TensorRole, index: Int) {
            entry.tensors.first { $0.index == local } ?? (name: "tensor \(local)", role: .scratch, index: local)
        }

        /// Inputs (non-weight tensors read) and outputs of a launch, as the entry's tensor locals.
        func access(_ s: RStmt) -> (reads: [Int], writes: [Int], weights: [Int], callee: String) {
            guard case .launch(let k, let name, _, let tensors) = s.kind else { return ([], [], [], "") }
            var reads: [Int] = [], writes: [Int] = [], weights: [Int] = []
            let callee = program.kernels[k]
            for (calleeIndex, callerIndex, _) in tensors {
                let role = callee.tensors[calleeIndex].role
                switch role {
                case .cache:
                    // A cache is state: the kernel reads what it loads and writes what it stores
                    // (kv_append writes the step's keys, attention reads them).
                    let (loads, stores) = Self.uses(callee, callee.tensors[calleeIndex].index)
                    if loads { reads.append(callerIndex) }
                    if stores { writes.append(callerIndex) }
                case .input:
                    if declared(callerIndex).role == .weight { weights.append(callerIndex) } else { reads.append(callerIndex) }
                case .weight: weights.append(callerIndex)
                default: writes.append(callerIndex)
                }
            }
            return (reads, writes, weights, name)
        }

        /// Whether kernel `k` loads and whether it stores its tensor declared at local `index`.
        static func uses(_ k: CheckedKernel, _ index: Int) -> (loads: Bool, stores: Bool) {
            var loads = false, stores = false
            IRWalk.inspect(k.body) { n in
                guard case .stmt(let st) = n else { return true }
                switch st.kind {
                case .load(_, _, let ref) where ref.tensor == index: loads = true
                case .gather(_, _, let table, _, _) where table == index: loads = true
                case .store(_, let ref) where ref.tensor == index: stores = true
                case .scatter(_, let table, _, _) where table == index: loads = true; stores = true
                default: break
                }
                return true
            }
            return (loads, stores)
        }

        mutating func block(_ b: RBlock, cluster: Int?) {
            for s in b.stmts {
                switch s.kind {
                case .launch:
                    if let first = group.first, access(first).callee != access(s).callee || Set(access(first).reads) != Set(access(s).reads) || groupCluster != cluster {
                        flush()
                    }
                    group.append(s)
                    groupCluster = cluster
                case .loop(_, _, _, _, let body, _) where Self.launches(body), .repeatLoop(_, let body) where Self.launches(body):
                    flush()
                    let header = s.span.file.text(s.span).split(separator: "\n").first.map(String.init)?
                        .replacingOccurrences(of: "{", with: "").trimmingCharacters(in: .whitespaces) ?? "loop"
                    let id = clusters.count
                    clusters.append(.init(id: id, parent: cluster, label: "\(header)   x \(profile.iterationCount(of: s.span))"))
                    block(body, cluster: id)
                    flush()
                case .ifStmt(_, let t, let e):
                    block(t, cluster: cluster)
                    if let e { block(e, cluster: cluster) }
                case .collective(let op, let ref, _):
                    flush()
                    collective(s, op, ref, cluster: cluster)
                default: break
                }
                // The entry's own work at its top level (an embedding loop written inline): a
                // node from its phase.
                if cluster == nil, !Self.any(s, Self.isLaunch), Self.any(s, Self.movesData) { flush(); ownWork(s) }
            }
        }

        /// Whether `s` or a statement inside it passes `test`.
        static func any(_ s: RStmt, _ test: (RStmt) -> Bool) -> Bool {
            var found = false
            IRWalk.inspect(s) { n in
                if case .stmt(let st) = n, test(st) { found = true }
                return !found
            }
            return found
        }
        static func isLaunch(_ s: RStmt) -> Bool { if case .launch = s.kind { return true }; return false }
        static func movesData(_ s: RStmt) -> Bool {
            switch s.kind { case .load, .store, .gather, .scatter: return true; default: return false }
        }

        /// A node for a collective that ran across GPUs (none when it ran on one): the tensor
        /// passes through it from its writer to its next reader.
        mutating func collective(_ s: RStmt, _ op: Collective, _ ref: RTensorRef, cluster: Int?) {
            let (l, c) = s.span.file.location(of: s.span.start)
            guard let stat = profile.collectives[StatementProfile.key(l, c)], stat.count > 0 else { return }
            let id = "collective_\(s.span.start)"
            let share = summary.time.total > 0 ? stat.seconds / summary.time.total : 0
            let what = "\(op.rawValue) \(ref.name)"
            var label = what + " across GPUs"
            label += "\n" + (stat.count > 1 ? "\(stat.count) runs: " : "") + String(format: "%@ (%.0f %%), %@ each", fmtSeconds(stat.seconds), share * 100, fmtBytes(stat.bytes / stat.count))
            nodes.append(Node(id: id, label: label, timeShare: share, isTensor: false, cluster: cluster,
                              launch: Launch(what: what, line: l, runs: stat.count, seconds: stat.seconds, dramBytes: 0, bound: nil)))
            connect(id, reads: [ref.tensor], writes: [ref.tensor])
        }

        /// A node for top-level statements of the entry itself, timed by their phase.
        mutating func ownWork(_ s: RStmt) {
            var reads: [Int] = [], writes: [Int] = []
            IRWalk.inspect(s) { n in
                guard case .stmt(let st) = n else { return true }
                switch st.kind {
                case .load(_, _, let ref): if !reads.contains(ref.tensor) { reads.append(ref.tensor) }
                case .gather(_, _, let table, _, _): if !reads.contains(table) { reads.append(table) }
                case .store(_, let ref): if !writes.contains(ref.tensor) { writes.append(ref.tensor) }
                case .scatter(_, let table, _, _): if !writes.contains(table) { writes.append(table) }
                default: break
                }
                return true
            }
            let line = s.span.file.location(of: s.span.start).0
            guard let phase = summary.phases.first(where: { $0.line == line }) else { return }
            let id = "own_\(s.span.start)"
            let share = summary.time.total > 0 ? phase.time_total / summary.time.total : 0
            let weights = reads.filter { declared($0).role == .weight }.map(tensorName)
            var label = "line \(line): \(phase.label)"
            label += Self.weights(weights)
            label += "\n" + String(format: "%@ (%.0f %%), %@, %@-bound", fmtSeconds(phase.time_total), share * 100,
                                    fmtBytes(phase.read_bytes + phase.write_bytes), phase.bound.rawValue)
            nodes.append(Node(id: id, label: label, timeShare: share, isTensor: false, cluster: nil,
                              launch: Launch(what: phase.label, line: line, runs: 1, seconds: phase.time_total, dramBytes: phase.read_bytes + phase.write_bytes, bound: phase.bound)))
            connect(id, reads: reads.filter { declared($0).role != .weight }, writes: writes)
        }

        /// Edges into node `id` from what last wrote each tensor it reads (or the tensor's HBM
        /// node), one per source; it becomes the writer of what it writes, and the model's
        /// outputs flow on into their HBM nodes.
        mutating func connect(_ id: String, reads: [Int], writes: [Int]) {
            var bySource: [String: [Int]] = [:], order: [String] = []
            for r in reads {
                let from = writer[r] ?? tensorNode(r)
                if bySource[from] == nil { order.append(from) }
                bySource[from, default: []].append(r)
            }
            for from in order { edge(from, id, bySource[from]!) }
            for w in writes { writer[w] = id }
            for w in writes where declared(w).role == .output { edge(id, tensorNode(w), [w]) }
        }

        static func launches(_ b: RBlock) -> Bool {
            IRWalk.contains(b) { n in
                if case .stmt(let s) = n, case .launch = s.kind { return true }
                return false
            }
        }

        func tensorName(_ local: Int) -> String { declared(local).name }

        func size(_ local: Int) -> String { profile.tensorBytes[tensorName(local)].map(fmtBytes) ?? "" }

        mutating func tensorNode(_ local: Int) -> String {
            let id = "hbm_\(local)"
            if !nodes.contains(where: { $0.id == id }) {
                let t = declared(local)
                nodes.append(Node(id: id, label: "\(t.name)\n\(t.role.rawValue), \(size(local))", timeShare: 0, isTensor: true, cluster: nil, launch: nil))
            }
            return id
        }

        mutating func edge(_ from: String, _ to: String, _ tensors: [Int]) {
            // Several tensors on one edge share a line (q, k and v: one short label, not three lines).
            let label = tensors.map { "\(tensorName($0)) \(size($0))" }.joined(separator: ", ")
            if let i = edges.firstIndex(where: { $0.from == from && $0.to == to }) { edges[i].label += ", " + label } else { edges.append(Edge(from: from, to: to, label: label)) }
        }

        /// Draws the launches gathered in `group` as one node.
        mutating func flush() {
            guard let first = group.first else { return }
            defer { group = [] }
            let id = "launch_\(first.span.start)"
            var stat = StatementProfile.LaunchStat()
            for s in group {
                let (l, c) = s.span.file.location(of: s.span.start)
                if let x = profile.launches[StatementProfile.key(l, c)] {
                    stat.count += x.count; stat.seconds += x.seconds; stat.dramBytes += x.dramBytes; stat.flops += x.flops
                }
            }
            let a = access(first)
            let weights = group.flatMap { access($0).weights }.map(tensorName)
            var reads: [Int] = [], writes: [Int] = []
            for s in group {
                let x = access(s)
                reads += x.reads.filter { !reads.contains($0) }
                writes += x.writes.filter { !writes.contains($0) }
            }
            let share = summary.time.total > 0 ? stat.seconds / summary.time.total : 0
            var label = "run \(a.callee)" + (group.count > 1 ? " x \(group.count)" : "")
            label += Self.weights(weights)
            label += "\n" + (stat.count > 1 ? "\(stat.count) runs: " : "") + String(format: "%@ (%.0f %%), %@", fmtSeconds(stat.seconds), share * 100, fmtBytes(stat.dramBytes))
            let bound = summary.kernels[a.callee]?.bound
            if let bound { label += ", \(bound.rawValue)-bound" }
            nodes.append(Node(id: id, label: label, timeShare: share, isTensor: false, cluster: groupCluster,
                              launch: Launch(what: "run \(a.callee)" + (weights.isEmpty ? "" : " (\(weights.joined(separator: ", ")))"),
                                             line: first.span.file.location(of: first.span.start).0, runs: stat.count, seconds: stat.seconds,
                                             dramBytes: stat.dramBytes, bound: bound)))
            connect(id, reads: reads, writes: writes)
        }

        /// Names in lines of a few, so a node with many weights stays narrow.
        /// Weight names after a node's first line, " (a, b, c, d," then lines of four more, so a
        /// node stays narrow and short.
        static func weights(_ names: [String]) -> String {
            guard !names.isEmpty else { return "" }
            return " (" + stride(from: 0, to: names.count, by: 4).map { names[$0..<min($0 + 4, names.count)].joined(separator: ", ") }.joined(separator: ",\n") + ")"
        }
    }
}
