import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Compare gpusim with the FlashAttention paper's Figure 2 (forward + backward, A100).",
        discussion: prose("""
        Runs Kernels/paper/standard_attention_eager.kern and Kernels/paper/flash_attention_v1.kern
        at the paper's setting (batch 64, 16 heads, N 1024, d 64) on a100-40gb, flash with the
        paper's block sizes (M = 192 KB per SM), and prints predicted vs published figures.
        """))

    @Option(help: "Folder holding the paper kernels.")
    var kernels: String = "Kernels/paper"

    @Option(help: "GPU preset.")
    var gpu: String = "a100-40gb"

    @Flag(help: "Print as JSON.")
    var json = false

    func run() throws {
        let model = try GPUOptions.preset(gpu)
        let standard = try loadProgram(kernels + "/standard_attention_eager.kern")
        let flash = try loadProgram(kernels + "/flash_attention_v1.kern")
        let v: PaperValidation
        do { v = try PaperValidation(standard: standard, flash: flash, gpu: model) } catch { throw failRun(error) }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(v.rows), as: UTF8.self))
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
