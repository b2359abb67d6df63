import Dispatch
import Foundation
import KernLang
import Simulator

/// Runs a kernel over the cross product of parameter values (in parallel) and fits how each
/// metric grows with each swept parameter: the least-squares slope in log-log. A sweep can be
/// one of N shards (every N-th point of the grid, so slices are alike in cost) whose outputs
/// `init(merging:)` joins into the sweep run whole.
public struct Sweep: Sendable {
    public struct Point: Sendable, Codable {
        /// The point's position in the whole grid (row-major over the parameters in order).
        public var index: Int
        public var params: [String: ParamValue]
        public var summary: RunSummary?
        public var error: String?
    }

    /// Shard `index` of `count` (0-based): the points whose grid position is index mod count.
    public struct Shard: Sendable, Codable, Equatable, CustomStringConvertible {
        public var index: Int
        public var count: Int
        public init(index: Int, count: Int) { self.index = index; self.count = count }
        /// "I/N", as `--shard` takes it.
        public init?(_ text: String) {
            let parts = text.split(separator: "/")
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
            self.init(index: i, count: n)
        }
        public var description: String { "\(index)/\(count)" }
    }

    /// The swept parameters and their values, in order: what identifies a grid.
    public var values: [(String, [ParamValue])]
    /// The shard this sweep ran (nil: all of the grid).
    public var shard: Shard?
    /// Points in the whole grid.
    public var total: Int { values.reduce(1) { $0 * $1.1.count } }

    public struct Fit: Sendable, Codable {
        public var metric: String
        public var parameter: String
        public var exponent: Double
        /// Points used (in groups that vary only this parameter).
        public var points: Int
        /// "N^2", "N^-1", or "N^1.37" when the exponent is not near a half-integer.
        public var growth: String
    }

    public var names: [String] { values.map(\.0) }
    public var points: [Point] = []

    public static let metrics: [(String, @Sendable (RunSummary) -> Double)] = [
        ("HBM traffic", { Double($0.hbm.total_bytes) }),
        ("FLOPs", { Double($0.flops.total) }),
        ("peak SRAM", { Double($0.sram.peak_bytes) }),
        ("time", { $0.time.total }),
    ]

    /// Every combination of `values` (parameters in the order given).
    public static func grid(_ values: [(String, [ParamValue])]) -> [[String: ParamValue]] {
        var out: [[String: ParamValue]] = [[:]]
        for (name, vs) in values {
            out = out.flatMap { base in vs.map { v in var b = base; b[name] = v; return b } }
        }
        return out
    }

    public init(program: CheckedProgram, gpu: GPUModel, cache: CacheMode = .flush, values: [(String, [ParamValue])], shard: Shard? = nil,
                progress: (@Sendable (Int, Int) -> Void)? = nil) {
        self.values = values
        self.shard = shard
        let grid = Self.grid(values)
        let picked = grid.indices.filter { shard == nil || $0 % shard!.count == shard!.index }
        let combos = picked.map { grid[$0] }
        /// Results written from the worker threads, one slot each, under a lock.
        final class Box: @unchecked Sendable {
            var points: [Point?]
            var finished = 0
            let lock = NSLock()
            init(_ n: Int) { points = Array(repeating: nil, count: n) }
        }
        let box = Box(combos.count)
        DispatchQueue.concurrentPerform(iterations: combos.count) { i in
            let p = combos[i]
            var point = Point(index: picked[i], params: p)
            let result = Result { () throws(SimulationError) in try Interpreter(program: program, options: RunOptions(gpu: gpu, overrides: p, cache: cache)).run() }
            switch result {
            case .success(let s): point.summary = s
            case .failure(.kernel(let d)): point.error = (d.span.map { "\($0.description): " } ?? "") + d.message
            case .failure(.input(let m)), .failure(.usage(let m)): point.error = m
            }
            box.lock.lock()
            box.points[i] = point
            box.finished += 1
            let n = box.finished
            box.lock.unlock()
            progress?(n, combos.count)
        }
        points = box.points.map { $0! }
    }

    /// The sweep of the whole grid from the outputs of its shards: the same grid, every point
    /// exactly once (in any files, any order).
    public init(merging parts: [Sweep]) throws(ImportError) {
        guard let first = parts.first else { throw ImportError("nothing to merge: give the shards' JSON files") }
        for p in parts.dropFirst() where !(p.values.map(\.0) == first.values.map(\.0) && p.values.map(\.1) == first.values.map(\.1)) {
            throw ImportError("the files sweep different grids (\(Self.describe(first.values)) vs \(Self.describe(p.values)))")
        }
        values = first.values
        shard = nil
        var byIndex: [Int: Point] = [:]
        for p in parts.flatMap(\.points) {
            guard p.index >= 0 && p.index < total else { throw ImportError("point \(p.index) is outside the grid of \(total)") }
            guard byIndex.updateValue(p, forKey: p.index) == nil else { throw ImportError("point \(p.index) (\(Self.describe(p.params, names))) is in more than one file") }
        }
        let missing = (0..<total).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            throw ImportError("\(missing.count) of \(total) points are in none of the files (first: \(missing.prefix(5).map(String.init).joined(separator: ", "))); is a shard missing?")
        }
        points = (0..<total).map { byIndex[$0]! }
    }

    static func describe(_ values: [(String, [ParamValue])]) -> String {
        values.map { "--\($0.0) \($0.1.map(\.description).joined(separator: ","))" }.joined(separator: " ")
    }
    static func describe(_ params: [String: ParamValue], _ names: [String]) -> String {
        names.map { "\($0)=\(params[$0].map(\.description) ?? "?")" }.joined(separator: " ")
    }

    static func number(_ v: ParamValue) -> Double? {
        switch v { case .int(let x): Double(x); case .float(let x): x; default: nil }
    }

    /// For each swept parameter with two or more values and each metric: the mean slope of
    /// log(metric) against log(parameter) over groups where only that parameter changes.
    public var fits: [Fit] {
        var out: [Fit] = []
        for name in names {
            let others = names.filter { $0 != name }
            var groups: [String: [(Double, RunSummary)]] = [:]
            for p in points {
                guard let s = p.summary, let x = p.params[name].flatMap(Self.number), x > 0 else { continue }
                let key = others.map { "\($0)=\(p.params[$0]!)" }.joined(separator: ",")
                groups[key, default: []].append((x, s))
            }
            for (metric, value) in Self.metrics {
                var slopes: [Double] = [], used = 0
                for g in groups.values where Set(g.map(\.0)).count >= 2 {
                    let pts = g.compactMap { (x, s) -> (Double, Double)? in let y = value(s); return y > 0 ? (log(x), log(y)) : nil }
                    guard pts.count >= 2 else { continue }
                    let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
                    let sxx = pts.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
                    guard sxx > 0 else { continue }
                    slopes.append(pts.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +) / sxx)
                    used += pts.count
                }
                guard !slopes.isEmpty else { continue }
                let e = slopes.reduce(0, +) / Double(slopes.count)
                out.append(Fit(metric: metric, parameter: name, exponent: e, points: used, growth: Self.growth(name, e)))
            }
        }
        return out
    }

    static func growth(_ name: String, _ e: Double) -> String {
        let half = (e * 2).rounded() / 2
        if abs(e - half) < 0.08 {
            if half == 0 { return "constant in \(name)" }
            let s = half == half.rounded() ? String(Int(half)) : String(format: "%.1f", half)
            return "\(name)^\(s)"
        }
        return String(format: "%@^%.2f", name, e)
    }

    public var csv: String {
        var lines = [(names + ["hbm_read_bytes", "hbm_write_bytes", "hbm_total_bytes", "flops", "peak_sram_bytes", "time_total", "time_unit", "bound", "error"]).joined(separator: ",")]
        for p in points {
            var row = names.map { p.params[$0]!.description }
            if let s = p.summary {
                row += ["\(s.hbm.read_bytes)", "\(s.hbm.write_bytes)", "\(s.hbm.total_bytes)", "\(s.flops.total)", "\(s.sram.peak_bytes)", "\(s.time.total)", s.time.unit.rawValue, s.bound.rawValue, ""]
            } else {
                row += ["", "", "", "", "", "", "", "", "\"" + (p.error ?? "").replacingOccurrences(of: "\"", with: "\"\"") + "\""]
            }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Sweep {
    /// What a sweep writes as JSON (`-o PREFIX` makes PREFIX.json; `--json` prints it), and what
    /// `gpusim sweep merge` reads back: the grid, which shard ran, each point with its position
    /// in the grid and its summary, and the fits.
    public struct File: Codable {
        public struct Parameter: Codable { public var name: String; public var values: [ParamValue] }
        public var kernel: String
        public var grid: [Parameter]
        /// Points in the whole grid (the product of the value counts; written for a reader).
        public var total: Int
        public var shard: Shard?
        public var points: [Point]
        public var fits: [Fit]
    }

    public func file(kernel: String) -> File {
        File(kernel: kernel, grid: values.map { .init(name: $0.0, values: $0.1) }, total: total, shard: shard, points: points, fits: fits)
    }

    public init(file f: File) {
        values = f.grid.map { ($0.name, $0.values) }
        shard = f.shard
        points = f.points
    }
}

