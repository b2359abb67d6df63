import Analysis
import Foundation
import Simulator

/// The terminal form of a simulation-vs-measurement diff: one block per launch pair (the
/// simulated phase, the measured kernel under it), DRAM, L2 and time with their errors, the
/// total, and the largest misses.
public enum LaunchDiffReport {
    public static func text(_ d: LaunchDiff, gpus: (String, String)) -> String {
        var out: [String] = []
        out.append("A: \(d.simulated) on \(gpus.0)")
        out.append("B: \(d.measured) on \(gpus.1)")
        if gpus.0 != gpus.1 { out.append("note: the two sides ran on different GPUs") }
        out.append("errors are (A - B) / B; A's kernel time leaves out the launch gaps a profiler does not count")
        out.append("")
        let head = "  #   " + "DRAM A".leftPadded(10) + "DRAM B".leftPadded(10) + "err".leftPadded(8)
            + "L2 A".leftPadded(10) + "L2 B".leftPadded(10) + "err".leftPadded(8)
            + "time A".leftPadded(11) + "time B".leftPadded(11) + "err".leftPadded(8)
        out.append(head)
        for (i, p) in d.pairs.enumerated() {
            out.append(row("\(i + 1)".leftPadded(3) + "   ", p))
            out.append("      A: " + (p.simulated.map(\.label) ?? "(no simulated launch)"))
            out.append("      B: " + (p.measured.map { shorten($0.label) + (p.measured_launches.map { " [launch \($0)]" } ?? "") } ?? "(no measured launch)"))
        }
        out.append(String(repeating: "-", count: head.count))
        out.append(row("total ", d.total))
        if !d.allPaired {
            let a = d.pairs.filter { $0.measured == nil }.count, b = d.pairs.filter { $0.simulated == nil }.count
            out.append("unpaired: \(a) simulated and \(b) measured launch\(a + b == 1 ? "" : "es") have no partner (listed above)")
        }
        func misses(_ title: String, _ idx: [Int], _ what: (LaunchDiff.Pair) -> String) {
            guard !idx.isEmpty else { return }
            out.append(title + idx.prefix(3).map { "#\($0 + 1) \(what(d.pairs[$0]))" }.joined(separator: "; "))
        }
        misses("largest time misses: ", d.largest_time_misses) { p in
            "\(signed(p.simulated!.seconds! - p.measured!.seconds!, fmtSeconds)) (\(percent(p.time_error)))"
        }
        misses("largest DRAM misses: ", d.largest_dram_misses) { p in
            "\(signed(Double(p.simulated!.dram_bytes! - p.measured!.dram_bytes!)) { fmtBytes(Int64($0)) }) (\(percent(p.dram_error)))"
        }
        return out.joined(separator: "\n")
    }

    static func row(_ lead: String, _ p: LaunchDiff.Pair) -> String {
        func bytes(_ v: Int64?) -> String { v.map(fmtBytes) ?? "unknown" }
        func time(_ v: Double?) -> String { v.map(fmtSeconds) ?? "unknown" }
        return lead + bytes(p.simulated?.dram_bytes).leftPadded(10) + bytes(p.measured?.dram_bytes).leftPadded(10) + percent(p.dram_error).leftPadded(8)
            + bytes(p.simulated?.l2_bytes).leftPadded(10) + bytes(p.measured?.l2_bytes).leftPadded(10) + percent(p.l2_error).leftPadded(8)
            + time(p.simulated?.seconds).leftPadded(11) + time(p.measured?.seconds).leftPadded(11) + percent(p.time_error).leftPadded(8)
    }

    static func percent(_ e: Double?) -> String {
        guard let e else { return "-" }
        return String(format: "%+.0f%%", e * 100)
    }

    static func signed(_ v: Double, _ f: (Double) -> String) -> String { (v < 0 ? "-" : "+") + f(abs(v)) }

    /// Kernel names from C++ templates run to hundreds of characters.
    static func shorten(_ s: String) -> String { s.count <= 90 ? s : String(s.prefix(87)) + "..." }
}
