import Foundation
import Simulator

/// Side-by-side comparison of two runs: totals, traffic per tensor, FLOPs, peak SRAM, time.
public struct RunDiff: Sendable, Encodable {
    public struct Row: Sendable, Encodable {
        /// A clean identifier (`hbm_read_bytes`, `tensor_S_traffic_bytes`, `time`).
        public var metric: String
        /// How the terminal table names it.
        public var label: String
        public var unit_a: String
        public var unit_b: String
        public var a: Double
        public var b: Double
        /// b / a (nil when a is 0 or the units differ).
        public var ratio: Double?

        enum CodingKeys: String, CodingKey { case metric, unit_a, unit_b, a, b, ratio }
    }

    public var a: String
    public var b: String
    public var rows: [Row] = []
    public var verdictA: String
    public var verdictB: String
    /// What differs between the sides (preset, units, shared problem sizes); empty when comparable.
    public var differences: [String]

    enum CodingKeys: String, CodingKey { case a, b, rows, verdictA = "verdict_a", verdictB = "verdict_b", differences }

    public init(_ x: RunSummary, _ y: RunSummary, labels: (String, String), differences: [String] = []) {
        a = labels.0; b = labels.1
        verdictA = x.bound.rawValue; verdictB = y.bound.rawValue
        self.differences = differences
        func row(_ key: String, _ label: String, _ units: (String, String), _ p: Double, _ q: Double) {
            rows.append(Row(metric: key, label: label, unit_a: units.0, unit_b: units.1, a: p, b: q,
                            ratio: p == 0 || units.0 != units.1 ? nil : q / p))
        }
        let bytes = ("bytes", "bytes")
        row("hbm_read_bytes", "HBM reads", bytes, Double(x.hbm.read_bytes), Double(y.hbm.read_bytes))
        row("hbm_write_bytes", "HBM writes", bytes, Double(x.hbm.write_bytes), Double(y.hbm.write_bytes))
        row("hbm_traffic_bytes", "HBM traffic", bytes, Double(x.hbm.total_bytes), Double(y.hbm.total_bytes))
        for name in Set(x.tensors.keys).union(y.tensors.keys).sorted() {
            let p = x.tensors[name].map { $0.read_bytes + $0.write_bytes } ?? 0
            let q = y.tensors[name].map { $0.read_bytes + $0.write_bytes } ?? 0
            row("tensor_\(name)_traffic_bytes", "  \(name) traffic", bytes, Double(p), Double(q))
        }
        row("peak_hbm_bytes", "Peak HBM", bytes, Double(x.hbm.peak_bytes), Double(y.hbm.peak_bytes))
        row("flops", "FLOPs", ("flops", "flops"), Double(x.flops.total), Double(y.flops.total))
        row("peak_sram_bytes", "Peak SRAM", bytes, Double(x.sram.peak_bytes), Double(y.sram.peak_bytes))
        row("time", "Time", (x.time.unit.rawValue, y.time.unit.rawValue), x.time.total, y.time.total)
    }

    /// Why two runs are not like for like: another preset, other time units, or a parameter
    /// both kernels take as a problem size (`sizes`: their literal parameters, nil when not
    /// known, then every shared parameter counts) with another value. Tile sizes and other
    /// parameters an algorithm derives may differ: that is what comparing algorithms is about.
    public static func differences(_ x: RunSummary, sizes sx: Set<String>?, _ y: RunSummary, sizes sy: Set<String>?) -> [String] {
        var out: [String] = []
        if x.gpu != y.gpu { out.append("preset \(x.gpu) vs \(y.gpu)") }
        if x.time.unit != y.time.unit { out.append("time in \(x.time.unit) vs \(y.time.unit)") }
        let shared = Set(x.params.keys).intersection(y.params.keys)
            .intersection(sx ?? Set(x.params.keys)).intersection(sy ?? Set(y.params.keys))
        for name in shared.sorted() where x.params[name] != y.params[name] {
            out.append("\(name) = \(x.params[name]!) vs \(y.params[name]!)")
        }
        return out
    }

    /// "HBM traffic: A is 3.2x lower than B" for the headline metrics.
    public var headlines: [String] {
        rows.filter { ["hbm_traffic_bytes", "flops", "peak_sram_bytes", "time"].contains($0.metric) }.compactMap { r in
            guard let ratio = r.ratio, r.b != 0 else { return nil }
            if abs(ratio - 1) < 0.005 { return "\(r.label): the same" }
            if abs(ratio - 1) < 0.05 { return String(format: "%@: about the same (B / A = %.2f)", r.label, ratio) }
            return ratio > 1 ? String(format: "%@: %@ is %.1fx lower than %@", r.label, a, ratio, b)
                             : String(format: "%@: %@ is %.1fx higher than %@", r.label, a, 1 / ratio, b)
        }
    }
}
