import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Fit a preset's achievable fractions to measured kernel times; write the result as a --gpu-file.",
        discussion: prose("""
        The manifest lists measured files (ncu --csv output, PyTorch profiler traces or gpusim import traces) with the kernel and parameters that model each, split into "fit" and "held_out" (paths relative to the manifest). Only hbmEfficiency and computeEfficiency move; the error before and after is printed for both parts.
        Example:
          gpusim calibrate --gpu h100-sxm h100.json -o h100-fitted.json
          gpusim run Kernels/flash_attention.kern --gpu-file h100-fitted.json
        """))

    @Argument(help: "The manifest (JSON).")
    var manifest: String

    @Option(name: .shortAndLong, help: "The fitted GPU description to write (JSON, for --gpu-file).")
    var output: String

    @OptionGroup var gpuOptions: GPUOptions

    func run() throws {
        let m: CalibrationManifest
        do { m = try CalibrationManifest.load(manifest) } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
        let base = try gpuOptions.given ? gpuOptions.model() : GPUOptions.preset(m.gpu ?? GPUModel.defaultPreset)
        let c: Calibration
        do { c = try Calibration.run(m, manifestPath: manifest, base: base) } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
        print("calibrating \(base.name) on \(c.points.filter { !$0.heldOut }.count) workloads (\(c.points.filter(\.heldOut).count) held out)")
        for (name, before, after) in c.moves {
            let change = before == 0 ? "" : String(format: " (%+.0f%%)", (after - before) / before * 100)
            print("  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%.3f", before)) -> \(String(format: "%.3f", after))\(change)")
        }
        print("")
        print("workload".padding(toLength: 34, withPad: " ", startingAt: 0) + "part".padding(toLength: 9, withPad: " ", startingAt: 0)
              + "measured".leftPadded(11) + "before".leftPadded(11) + "err".leftPadded(7) + "after".leftPadded(11) + "err".leftPadded(7) + "DRAM err".leftPadded(10))
        let before: [Double], after: [Double]
        do { (before, after) = (try c.timeErrors(on: c.base), try c.timeErrors(on: c.fitted)) } catch { throw failRun(error) }
        func pct(_ e: Double?) -> String { e.map { String(format: "%+.0f%%", $0 * 100) } ?? "-" }
        for (i, p) in c.points.enumerated() {
            print(String(p.name.prefix(33)).padding(toLength: 34, withPad: " ", startingAt: 0) + (p.heldOut ? "held out" : "fit").padding(toLength: 9, withPad: " ", startingAt: 0)
                  + fmtSeconds(p.measuredSeconds).leftPadded(11) + fmtSeconds(p.measuredSeconds * (1 + before[i])).leftPadded(11) + pct(before[i]).leftPadded(7)
                  + fmtSeconds(p.measuredSeconds * (1 + after[i])).leftPadded(11) + pct(after[i]).leftPadded(7) + pct(p.dramError).leftPadded(10))
        }
        print("")
        for held in [false, true] {
            let part = c.points.indices.filter { c.points[$0].heldOut == held }
            guard !part.isEmpty else { continue }
            func median(_ e: [Double]) -> Double { Benchmark.median(part.map { abs(e[$0]) }) }
            let dram = c.medianDRAMError(heldOut: held).map { String(format: "; DRAM bytes %.1f %% (not fitted)", $0 * 100) } ?? ""
            print(String(format: "%@ median |time error|: %.1f %% before, %.1f %% after", held ? "held out" : "fitted  ", median(before) * 100, median(after) * 100) + dram)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try writeFile(output, try enc.encode(c.fitted))
        print("wrote \(output) (use it with --gpu-file \(output))")
    }
}
