import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Compare gpusim with the FlashAttention paper's Figure 2 (A100), or with real H100 counters.",
        discussion: prose("""
        Runs Kernels/paper/standard_attention_eager.kern and Kernels/paper/flash_attention_v1.kern
        at the paper's setting (batch 64, 16 heads, N 1024, d 64) on a100-40gb, flash with the
        paper's block sizes (M = 192 KB per SM), and prints predicted vs published figures.
        With --gpu h100-sxm (or --measurements FILE) it instead runs every workload of a measurements file (the layout of ../shared/reference/h100/measurements.json, found beside the checkout) with the shipped kernel that models it, and prints predicted vs measured DRAM bytes and kernel time.
        Examples:
          gpusim validate
          gpusim validate --gpu h100-sxm
        """))

    @Option(help: "A measurements.json of real counters (default with --gpu h100-sxm: ../shared/reference/h100/ beside the checkout).")
    var measurements: String?

    @Option(help: "Folder holding the paper kernels.")
    var kernels: String = "Kernels/paper"

    @Option(help: "GPU preset (default: a100-40gb, the paper's GPU).")
    var gpu: String = "a100-40gb"

    @Option(help: "L2 between launches for the counter comparison: flush (the measurements' --cache-control all; default) or warm.")
    var cache: CacheMode = .flush

    @Flag(help: "Print as JSON.")
    var json = false

    func run() throws {
        let model = try GPUOptions.preset(gpu)
        if measurements != nil || model.name == "h100-sxm" { return try runCounters(model) }
        let standard = try loadProgram(kernels + "/standard_attention_eager.kern")
        let flash = try loadProgram(kernels + "/flash_attention_v1.kern")
        let v: PaperValidation
        do { v = try PaperValidation(standard: standard, flash: flash, gpu: model) } catch { throw failRun(error) }
        if json {
            try printJSON(v.rows)
            return
        }
        print("FlashAttention paper, Figure 2 (GPT-2 medium attention: batch 64, 16 heads, N 1024, d 64; forward + backward) on \(model.name)")
        print("metric                              predicted   published   source              error    within")
        for r in v.rows {
            print(r.metric.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%11.2f %11.2f   ", r.predicted, r.published)
                  + r.source.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%+7.1f%%   %@ (±%.0f%%)", r.relativeError * 100, r.within ? "yes" : "NO ", r.tolerance * 100))
        }
        let square = PaperValidation.squareTraffic(v.standard, names: ["S", "P", "dP"])
        print(String(format: "standard: %.1f GB of its traffic is the N x N scores, probabilities and gradients; the other %.1f GB are the GEMMs' reads of Q, K, V and dO that the blocks of a wave do not share through L2.",
                     Double(square) / 1e9, Double(v.standard.hbm.total_bytes - square) / 1e9))
        print(String(format: "FLOPs: gpusim counts %.1f GFLOP (standard) and %.1f GFLOP (flash, the backward recomputes S and P); FlashAttention-2's convention gives %.1f GFLOP. The paper prints 66.6 and 75.2 GFLOPs, about 12x less than the stated workload implies.",
                     Double(v.standard.flops.total) / 1e9, Double(v.flash.flops.total) / 1e9, v.conventionFLOPs / 1e9))
        print("block-size sweep (FlashAttention forward + backward, Br = min(Bc, d)):")
        for s in v.sweep {
            print(String(format: "  Bc = %4lld   HBM %6.2f GB   runtime %6.2f ms", s.bc, Double(s.bytes) / 1e9, s.time * 1e3))
        }
        if v.flash.sram.overflow {
            print("note: with the paper's Bc = \(v.flash.params["Bc"]!) the backward pass's f32 dK/dV accumulators exceed the \(fmtBytes(model.sramBytes)) a thread block may use (peak \(fmtBytes(v.flash.sram.peak_bytes))); gpusim logs it and counts the traffic as written.")
        }
    }
}

extension ValidateCommand {
    /// The measurements beside the checkout this gpusim was built in, if there are some.
    static func defaultMeasurements() -> String? {
        guard let kernels = KernelLibrary.shippedFolder() else { return nil }
        let root = URL(fileURLWithPath: kernels).deletingLastPathComponent()
        let path = root.deletingLastPathComponent().appendingPathComponent("shared/reference/h100/measurements.json").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    func runCounters(_ model: GPUModel) throws {
        guard let path = measurements ?? Self.defaultMeasurements() else {
            throw ValidationError("--measurements: no measurements.json beside this checkout (../shared/reference/h100/); give its path")
        }
        let v: CounterValidation
        do { v = try CounterValidation(measurementsPath: path, gpu: model, cache: cache) } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
        if json {
            try printJSON(v.rows)
            return
        }
        print("Real counters (\(path)) against \(model.name) (--cache \(cache.rawValue)): DRAM bytes (read + write), L2 traffic and kernel time; errors are (predicted - measured) / measured")
        print("workload                      kernel                   DRAM meas    DRAM pred     err    time meas    time pred     err     L2 err")
        func pct(_ e: Double) -> String { String(format: "%+.0f%%", e * 100) }
        for r in v.rows {
            print(r.workload.padding(toLength: 30, withPad: " ", startingAt: 0) + r.kernel.padding(toLength: 22, withPad: " ", startingAt: 0)
                  + fmtBytes(r.measured_dram_bytes).leftPadded(12) + fmtBytes(r.predicted_dram_bytes).leftPadded(13) + pct(r.dram_error).leftPadded(8)
                  + fmtSeconds(r.measured_seconds).leftPadded(13) + fmtSeconds(r.predicted_seconds).leftPadded(13) + pct(r.time_error).leftPadded(8)
                  + (r.l2_error.map(pct) ?? "-").leftPadded(11))
        }
        for (w, why) in v.skipped { print("\(w): not modelled: \(why)") }
        print(String(format: "median |error| over %d workloads: DRAM bytes %.1f %%, kernel time %.1f %%, L2 traffic %.1f %%", v.rows.count, v.medianDRAMError * 100, v.medianTimeError * 100, v.medianL2Error * 100))
    }
}
