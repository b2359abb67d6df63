import Foundation
import Simulator

/// Side-by-side comparison of two runs: totals, traffic per tensor, FLOPs, peak SRAM, time.
public struct RunDiff: Sendable, Encodable {
    public struct Row: Sendable, Encodable {
        public var metric: String
        public var unit: String
        public var a: Double
        public var b: Double
        /// b / a (nil when a is 0).
        public var ratio: Double?
    }

    public var a: String
    public var b: String
    public var rows: [Row] = []
    public var verdictA: String
    public var verdictB: String

    public init(_ x: RunSummary, _ y: RunSummary, labels: (String, String)) {
        a = labels.0; b = labels.1
        verdictA = x.bound; verdictB = y.bound
        func row(_ m: String, _ unit: String, _ p: Double, _ q: Double) {
            rows.append(Row(metric: m, unit: unit, a: p, b: q, ratio: p == 0 ? nil : q / p))
        }
        row("HBM reads", "bytes", Double(x.hbm.read_bytes), Double(y.hbm.read_bytes))
        row("HBM writes", "bytes", Double(x.hbm.write_bytes), Double(y.hbm.write_bytes))
        row("HBM traffic", "bytes", Double(x.hbm.total_bytes), Double(y.hbm.total_bytes))
        for name in Set(x.tensors.keys).union(y.tensors.keys).sorted() {
            let p = x.tensors[name].map { $0.read_bytes + $0.write_bytes } ?? 0
            let q = y.tensors[name].map { $0.read_bytes + $0.write_bytes } ?? 0
            row("  \(name) traffic", "bytes", Double(p), Double(q))
        }
        row("Peak HBM", "bytes", Double(x.hbm.peak_bytes), Double(y.hbm.peak_bytes))
        row("FLOPs", "flops", Double(x.flops.total), Double(y.flops.total))
        row("Peak SRAM", "bytes", Double(x.sram.peak_bytes), Double(y.sram.peak_bytes))
        row("Time", x.time.unit, x.time.total, y.time.total)
    }

    /// "HBM traffic: A is 3.2x lower than B" for the headline metrics.
    public var headlines: [String] {
        rows.filter { ["HBM traffic", "FLOPs", "Peak SRAM", "Time"].contains($0.metric) }.compactMap { r in
            guard let ratio = r.ratio, r.b != 0 else { return nil }
            if abs(ratio - 1) < 0.005 { return "\(r.metric): the same" }
            if abs(ratio - 1) < 0.05 { return String(format: "%@: about the same (B / A = %.2f)", r.metric, ratio) }
            return ratio > 1 ? String(format: "%@: %@ is %.1fx lower than %@", r.metric, a, ratio, b)
                             : String(format: "%@: %@ is %.1fx higher than %@", r.metric, a, 1 / ratio, b)
        }
    }
}
