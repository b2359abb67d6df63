import Foundation
import KernLang
import Simulator

/// What `gpusim calibrate` reads: measured files and the gpusim runs that model them. Paths are
/// relative to the manifest's folder.
///
///     {"gpu": "h100-sxm",
///      "fit":      [{"name": "eager 1024", "measured": "ncu/standard_1024_64_16_fw.csv",
///                    "kernel": "Kernels/stack/eager_attention.kern", "params": {"N": 1024, "BH": 16}}],
///      "held_out": [...]}
public struct CalibrationManifest: Decodable, Sendable {
    public struct Entry: Decodable, Sendable {
        public var name: String
        public var measured: String
        public var kernel: String
        public var params: [String: ParamValue]?
    }
    public var gpu: String?
    public var fit: [Entry]
    public var held_out: [Entry]?

    public static func load(_ path: String) throws(ImportError) -> CalibrationManifest {
        let text = try NsightCSV.readText(path)
        do { return try JSONDecoder().decode(CalibrationManifest.self, from: Data(text.utf8)) } catch let e as DecodingError {
            throw ImportError("'\(path)' is not a calibration manifest: \(GPUModel.describe(e)) (it needs \"fit\": [{\"name\", \"measured\", \"kernel\", \"params\"}])")
        } catch { throw ImportError("'\(path)' is not JSON: \(error.localizedDescription)") }
    }
}

/// Fits a preset's achievable fractions (`hbmEfficiency`, `computeEfficiency`) to measured
/// kernel times. Each workload's kernel runs once on the preset; its time on other fractions
/// follows from `RunSummary.kernelTime(on:ranOn:)` (each time term is a counter over a rate),
/// so the search costs no further runs. The fit minimises the mean squared log ratio of
/// predicted to measured kernel time over the fitted workloads, on a grid refined twice.
/// DRAM bytes do not depend on these parameters; they are reported, not fitted.
public struct Calibration: Sendable {
    /// The parameters a calibration may move, with their search ranges.
    public static let parameters: [(name: String, range: ClosedRange<Double>)] = [
        ("hbmEfficiency", 0.2...1.0), ("computeEfficiency", 0.05...1.0),
    ]

    public struct Point: Sendable {
        public var name: String
        public var heldOut: Bool
        public var summary: RunSummary
        public var measuredSeconds: Double
        public var measuredDRAM: Int64?

        /// (predicted - measured) / measured.
        public func timeError(on gpu: GPUModel, base: GPUModel) -> Double {
            (summary.kernelTime(on: gpu, ranOn: base) - measuredSeconds) / measuredSeconds
        }
        public var dramError: Double? {
            guard let m = measuredDRAM, m > 0 else { return nil }
            return Double(summary.hbm.total_bytes - m) / Double(m)
        }
    }

    public var base: GPUModel
    public var points: [Point]
    public var fitted: GPUModel

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// Runs every entry's kernel on `base` and fits.
    public static func run(_ manifest: CalibrationManifest, manifestPath: String, base: GPUModel) throws(Failure) -> Calibration {
        let dir = (manifestPath as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || dir.isEmpty ? p : dir + "/" + p }
        var points: [Point] = []
        for (entry, held) in manifest.fit.map({ ($0, false) }) + (manifest.held_out ?? []).map({ ($0, true) }) {
            let measured: MeasuredRun
            do { measured = try MeasuredRun.load(resolve(entry.measured)) } catch { throw Failure(description: "\(entry.name): \(error)") }
            let summary: RunSummary
            do {
                guard case .success(let program) = try Runner.load(resolve(entry.kernel)) else {
                    throw Failure(description: "\(entry.name): '\(entry.kernel)' has errors (gpusim check shows them)")
                }
                summary = try Runner.run(program, options: RunOptions(gpu: base, overrides: entry.params ?? [:]))
            } catch let e as Failure { throw e } catch { throw Failure(description: "\(entry.name): \(error)") }
            points.append(Point(name: entry.name, heldOut: held, summary: summary, measuredSeconds: measured.kernelSeconds, measuredDRAM: measured.dramBytes))
        }
        return try fit(points, base: base)
    }

    public static func fit(_ points: [Point], base: GPUModel) throws(Failure) -> Calibration {
        let fitting = points.filter { !$0.heldOut }
        guard fitting.count >= parameters.count else {
            throw Failure(description: "calibration needs at least \(parameters.count) fitted workloads for its \(parameters.count) parameters (\(parameters.map(\.name).joined(separator: ", "))); the manifest's \"fit\" has \(fitting.count)")
        }
        guard base.units == .seconds, base.elementBytes == nil else {
            throw Failure(description: "'\(base.name)' keeps the seed's model (elements and cycles); calibrate a real preset")
        }
        func model(_ h: Double, _ c: Double) -> GPUModel {
            var g = base
            g.hbmEfficiency = h; g.computeEfficiency = c
            return g
        }
        func loss(_ g: GPUModel) -> Double {
            fitting.reduce(0) { acc, p in
                let r = log(p.summary.kernelTime(on: g, ranOn: base) / p.measuredSeconds)
                return acc + r * r
            } / Double(fitting.count)
        }
        // A log-spaced grid over both ranges, then twice a finer one around the best cell.
        var (hr, cr) = (parameters[0].range, parameters[1].range)
        var best = (h: base.hbmEfficiency, c: base.computeEfficiency, loss: loss(base))
        let n = 48
        for _ in 0..<3 {
            for i in 0...n {
                let h = exp(log(hr.lowerBound) + (log(hr.upperBound) - log(hr.lowerBound)) * Double(i) / Double(n))
                for j in 0...n {
                    let c = exp(log(cr.lowerBound) + (log(cr.upperBound) - log(cr.lowerBound)) * Double(j) / Double(n))
                    let l = loss(model(h, c))
                    if l < best.loss - 1e-15 { best = (h, c, l) }
                }
            }
            func around(_ v: Double, _ r: ClosedRange<Double>, _ full: ClosedRange<Double>) -> ClosedRange<Double> {
                let step = pow(r.upperBound / r.lowerBound, 1 / Double(n))
                return max(full.lowerBound, v / (step * step))...min(full.upperBound, v * step * step)
            }
            hr = around(best.h, hr, parameters[0].range)
            cr = around(best.c, cr, parameters[1].range)
        }
        var fitted = model((best.h * 1000).rounded() / 1000, (best.c * 1000).rounded() / 1000)
        fitted.name = base.name + "-calibrated"
        fitted.description = base.description + ", achievable fractions calibrated on \(fitting.count) measured workloads"
        return Calibration(base: base, points: points, fitted: fitted)
    }

    /// Median absolute time error of one part (held out or fitted) on `gpu`.
    public func medianTimeError(heldOut: Bool, on gpu: GPUModel) -> Double? {
        Calibration.median(points.filter { $0.heldOut == heldOut }.map { abs($0.timeError(on: gpu, base: base)) })
    }

    public func medianDRAMError(heldOut: Bool) -> Double? {
        Calibration.median(points.filter { $0.heldOut == heldOut }.compactMap { $0.dramError.map(abs) })
    }

    static func median(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : Benchmark.median(xs) }

    /// The parameters that moved: name, before, after.
    public var moves: [(name: String, before: Double, after: Double)] {
        [("hbmEfficiency", base.hbmEfficiency, fitted.hbmEfficiency), ("computeEfficiency", base.computeEfficiency, fitted.computeEfficiency)]
    }
}
