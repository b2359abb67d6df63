import Foundation
import KernLang
import Simulator

/// What one launch (or a group of launches) did: the unit `gpusim diff` lines up between a
/// simulation and a measurement. A figure the source does not know is nil.
public struct LaunchFigures: Sendable, Encodable, Equatable {
    public var label: String
    /// GPU kernels this entry stands for (a phase that ran `repeat 12 { run ... }` stands for 12).
    public var launches: Int
    /// DRAM bytes read plus written.
    public var dram_bytes: Int64?
    /// All L2 traffic, reads and writes.
    public var l2_bytes: Int64?
    /// Kernel time, without the gaps between launches (what a profiler's durations sum to).
    public var seconds: Double?

    public init(label: String, launches: Int = 1, dram_bytes: Int64?, l2_bytes: Int64?, seconds: Double?) {
        self.label = label; self.launches = launches; self.dram_bytes = dram_bytes; self.l2_bytes = l2_bytes; self.seconds = seconds
    }

    /// A simulation's launches, from the entry kernel's phases: a phase that ran launches (a
    /// top-level grid of a GPU kernel, or `run` statements) stands for that many; the phases
    /// that are part of a launch (statements around the grids) join the next launch, or the
    /// last one, or, in a kernel without grids, form its one launch. The launch overhead in a
    /// phase's time is left out: profilers time kernels, not the gaps between them. With the
    /// kernel's `source`, a phase under a `# comment` line is labelled by the comment.
    public static func simulated(_ s: RunSummary, source: SourceFile? = nil) -> [LaunchFigures] {
        var out: [LaunchFigures] = [], pending: [LaunchFigures] = []
        for p in s.phases {
            let n = Int(p.launches ?? 0)
            let above = p.line > 1 ? source?.lineText(p.line - 1).trimmingCharacters(in: .whitespaces) ?? "" : ""
            let label = above.hasPrefix("#") && !above.hasPrefix("##") ? String(above.dropFirst()).trimmingCharacters(in: .whitespaces) : p.label
            let f = LaunchFigures(label: "\(label) (line \(p.line))", launches: n, dram_bytes: p.read_bytes + p.write_bytes,
                                  l2_bytes: p.l2_bytes, seconds: p.time_total - (p.launch_gaps ?? 0))
            if n == 0 { pending.append(f); continue }
            out.append(pending.isEmpty ? f : sum(pending + [f], label: f.label))
            pending = []
        }
        if !pending.isEmpty {
            if let last = out.popLast() { out.append(sum([last] + pending, label: last.label)) }
            else { out.append(sum(pending, label: pending.count == 1 ? pending[0].label : "\(s.kernel) (lines \(s.phases.first!.line)-\(s.phases.last!.line))")) }
        }
        return out.map { var f = $0; f.launches = max(1, f.launches); return f }
    }

    /// A measured trace's launches, from its launch events.
    public static func measured(_ events: [Event], summary s: RunSummary) -> [LaunchFigures] {
        events.filter { $0.kind == .launch }.map { e in
            LaunchFigures(label: e.name, dram_bytes: s.knows("hbm") ? e.dramBytes + e.dramWriteBytes : nil,
                          l2_bytes: s.knows("l2") ? e.bytes : nil, seconds: e.duration)
        }
    }

    /// The sum of several entries (nil where any of them does not know a figure).
    static func sum(_ xs: [LaunchFigures], label: String) -> LaunchFigures {
        func add<T: AdditiveArithmetic>(_ k: KeyPath<LaunchFigures, T?>) -> T? {
            xs.reduce(T.zero as T?) { acc, x in acc.flatMap { a in x[keyPath: k].map { a + $0 } } }
        }
        return LaunchFigures(label: label, launches: xs.reduce(0) { $0 + $1.launches },
                             dram_bytes: add(\.dram_bytes), l2_bytes: add(\.l2_bytes), seconds: add(\.seconds))
    }
}

/// A simulation's launches next to a measurement's, in launch order. A simulated entry that
/// stands for n launches is paired with the next n measured ones (summed); whatever has no
/// partner is listed on its own, never silently paired.
public struct LaunchDiff: Sendable, Encodable {
    public struct Pair: Sendable, Encodable {
        /// 1-based launch numbers of the measured side ("3" or "4-15"); nil when unpaired.
        public var measured_launches: String?
        public var simulated: LaunchFigures?
        public var measured: LaunchFigures?
        /// (simulated - measured) / measured; nil when either is unknown or the measurement is 0.
        public var dram_error: Double?
        public var l2_error: Double?
        public var time_error: Double?

        init(_ s: LaunchFigures?, _ m: LaunchFigures?, launches: String?) {
            simulated = s; measured = m; measured_launches = launches
            func err<T: BinaryInteger>(_ a: T?, _ b: T?) -> Double? {
                guard let a, let b, b != 0 else { return nil }
                return (Double(a) - Double(b)) / Double(b)
            }
            dram_error = err(s?.dram_bytes, m?.dram_bytes)
            l2_error = err(s?.l2_bytes, m?.l2_bytes)
            if let a = s?.seconds, let b = m?.seconds, b > 0 { time_error = (a - b) / b }
        }

        /// |simulated - measured| of a figure, for ranking misses.
        func miss(_ k: KeyPath<LaunchFigures, Int64?>) -> Double? {
            guard let a = simulated?[keyPath: k], let b = measured?[keyPath: k] else { return nil }
            return abs(Double(a - b))
        }
        var timeMiss: Double? {
            guard let a = simulated?.seconds, let b = measured?.seconds else { return nil }
            return abs(a - b)
        }
    }

    public var simulated: String
    public var measured: String
    public var pairs: [Pair] = []
    public var total: Pair
    /// Pair indices (0-based) by how far the time is off, largest first; then by DRAM bytes.
    public var largest_time_misses: [Int]
    public var largest_dram_misses: [Int]

    public init(simulated sim: [LaunchFigures], measured meas: [LaunchFigures], labels: (String, String)) {
        simulated = labels.0; measured = labels.1
        var next = 0
        var pairs: [Pair] = []
        for s in sim {
            guard next < meas.count else { pairs.append(Pair(s, nil, launches: nil)); continue }
            let end = min(meas.count, next + s.launches)
            let group = Array(meas[next..<end])
            let numbers = group.count == 1 ? "\(next + 1)" : "\(next + 1)-\(end)"
            let m = group.count == 1 ? group[0] : LaunchFigures.sum(group, label: "\(group.count) launches: " + Set(group.map(\.label)).sorted().joined(separator: ", "))
            pairs.append(Pair(s, m, launches: numbers))
            next = end
        }
        for (i, m) in meas.enumerated().dropFirst(next) { pairs.append(Pair(nil, m, launches: "\(i + 1)")) }
        self.pairs = pairs
        total = Pair(LaunchFigures.sum(sim, label: "total"), LaunchFigures.sum(meas, label: "total"), launches: meas.isEmpty ? nil : "1-\(meas.count)")
        let paired = pairs.indices.filter { pairs[$0].simulated != nil && pairs[$0].measured != nil }
        largest_time_misses = paired.filter { pairs[$0].timeMiss != nil }.sorted { pairs[$0].timeMiss! > pairs[$1].timeMiss! }
        largest_dram_misses = paired.filter { pairs[$0].miss(\.dram_bytes) != nil }.sorted { pairs[$0].miss(\.dram_bytes)! > pairs[$1].miss(\.dram_bytes)! }
    }

    /// Whether the two sides have the same number of launches, all paired one to one or by groups.
    public var allPaired: Bool { pairs.allSatisfy { $0.simulated != nil && $0.measured != nil } }
}
