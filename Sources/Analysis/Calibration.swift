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
/// kernel times: every candidate runs each fitted workload's kernel on a copy of the preset
/// with those fractions (the simulation, not a formula, says what they change), and the fit
/// minimises the mean squared log ratio of predicted to measured kernel time, one parameter
/// at a time by golden-section search in log space, three rounds. DRAM bytes do not depend
/// on these parameters; they are reported, not fitted.
public struct Calibration: Sendable {
    /// The parameters a calibration may move, with their search ranges.
    public static let parameters: [(name: String, range: ClosedRange<Double>)] = [
        ("hbmEfficiency", 0.2...1.0), ("computeEfficiency", 0.05...1.0),
    ]

    public struct Point: Sendable {
        public var name: String
        public var heldOut: Bool
        public var program: CheckedProgram
        public var params: [String: ParamValue]
        public var measuredSeconds: Double
        public var measuredDRAM: Int64?
        /// The run on the preset as it is.
        public var summary: RunSummary

        /// The kernel time (launch overhead aside, as profilers time kernels) on `gpu`.
        public func kernelTime(on gpu: GPUModel) throws(SimulationError) -> Double {
            let s = try Runner.run(program, options: RunOptions(gpu: gpu, overrides: params))
            return s.time.kernel ?? s.time.total - (s.time.launch_gaps ?? 0)
        }
        /// (predicted - measured) / measured.
        public func timeError(on gpu: GPUModel) throws(SimulationError) -> Double {
            (try kernelTime(on: gpu) - measuredSeconds) / measuredSeconds
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
            do {
                let path = FileManager.default.fileExists(atPath: resolve(entry.kernel)) ? resolve(entry.kernel) : entry.kernel
                guard case .success(let program) = try Runner.load(path) else {
                    throw Failure(description: "\(entry.name): '\(entry.kernel)' has errors (gpusim check shows them)")
                }
                let params = entry.params ?? [:]
                let summary = try Runner.run(program, options: RunOptions(gpu: base, overrides: params))
                points.append(Point(name: entry.name, heldOut: held, program: program, params: params, measuredSeconds: measured.kernelSeconds,
                                    measuredDRAM: measured.dramBytes, summary: summary))
            } catch let e as Failure { throw e } catch { throw Failure(description: "\(entry.name): \(error)") }
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
        func model(_ x: [Double]) -> GPUModel {
            var g = base
            g.hbmEfficiency = x[0]; g.computeEfficiency = x[1]
            return g
        }
        var failure: SimulationError?
        func loss(_ x: [Double]) -> Double {
            let g = model(x)
            var sum = 0.0
            for p in fitting {
                do {
                    let r = log(try p.kernelTime(on: g) / p.measuredSeconds)
                    sum += r * r
                } catch { failure = error; return .infinity }
            }
            return sum / Double(fitting.count)
        }
        var x = [base.hbmEfficiency, base.computeEfficiency]
        for _ in 0..<3 {
            for i in x.indices {
                // Golden-section search of log(x[i]) over its range, the other parameter fixed.
                var lo = log(parameters[i].range.lowerBound), hi = log(parameters[i].range.upperBound)
                let phi = (5.0.squareRoot() - 1) / 2
                func at(_ v: Double) -> Double { var y = x; y[i] = exp(v); return loss(y) }
                var a = hi - phi * (hi - lo), b = lo + phi * (hi - lo)
                var fa = at(a), fb = at(b)
                while hi - lo > 1e-3 {
                    if fa <= fb { hi = b; b = a; fb = fa; a = hi - phi * (hi - lo); fa = at(a) }
                    else { lo = a; a = b; fa = fb; b = lo + phi * (hi - lo); fb = at(b) }
                }
                let best = exp((lo + hi) / 2)
                var y = x
                y[i] = best
                if loss(y) <= loss(x) { x = y }
            }
        }
        if let failure { throw Failure(description: "a workload failed while fitting: \(failure)") }
        var fitted = model(x.map { ($0 * 1000).rounded() / 1000 })
        fitted.name = base.name + "-calibrated"
        fitted.description = base.description + ", achievable fractions calibrated on \(fitting.count) measured workloads"
        return Calibration(base: base, points: points, fitted: fitted)
    }

    /// Each point's time error on `gpu`, in the manifest's order.
    public func timeErrors(on gpu: GPUModel) throws(SimulationError) -> [Double] {
        try points.map { p throws(SimulationError) in try p.timeError(on: gpu) }
    }

    /// Median absolute time error of one part (held out or fitted) on `gpu`.
    public func medianTimeError(heldOut: Bool, on gpu: GPUModel) throws(SimulationError) -> Double? {
        Calibration.median(try points.filter { $0.heldOut == heldOut }.map { p throws(SimulationError) in abs(try p.timeError(on: gpu)) })
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
