import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

/// The FlashAttention paper's Figure 2 setting on a100-40gb (shared/reference/hardware-and-papers.md).
@Suite struct PaperValidationTests {
    @Test func figureTwo() throws {
        let v = try PaperValidation(standard: try program("Kernels/paper/standard_attention_eager.kern"),
                                    flash: try program("Kernels/paper/flash_attention_v1.kern"), gpu: GPUModel.preset(named: "a100-40gb")!)
        func row(_ metric: String, _ source: String) -> PaperValidation.Row { v.rows.first { $0.metric.hasPrefix(metric) && $0.source.hasPrefix(source) }! }
        // FlashAttention: HBM traffic within 10 % of 4.4 GB, runtime within 30 % of the arXiv 7.3 ms.
        #expect(row("FlashAttention HBM", "both").within)
        #expect(row("FlashAttention runtime", "arXiv").within)
        // Standard: runtime within 30 % of both published versions.
        #expect(row("standard runtime", "arXiv").within && row("standard runtime", "NeurIPS").within)
        // Standard traffic: the N x N intermediates alone come within 2 % of the arXiv 40.3 GB; the
        // GEMM operands on top, shared by the blocks of a wave through L2, keep the total within 10 %.
        let square = Double(PaperValidation.squareTraffic(v.standard, names: ["S", "P", "dP"])) / 1e9
        #expect(abs(square / 40.3 - 1) < 0.02)
        #expect(row("standard HBM", "arXiv").within)
        #expect(abs(row("standard HBM", "arXiv").relativeError - 0.053) < 0.01)
        // Without L2 sharing (a GPU with no L2) the GEMMs' operand re-reads all go to HBM: 48 GB.
        var noL2 = GPUModel.preset(named: "a100-40gb")!
        noL2.l2Bytes = 0
        let unshared = try PaperValidation(standard: try program("Kernels/paper/standard_attention_eager.kern"),
                                           flash: try program("Kernels/paper/flash_attention_v1.kern"), gpu: noL2)
        #expect(abs(Double(unshared.standard.hbm.total_bytes) / 1e9 - 48.05) < 0.05)
        // FlashAttention's re-reads are private to each block: L2 saves none of them. It only keeps
        // the last blocks' outputs dirty when each launch ends (--cache flush).
        #expect(unshared.flash.hbm.read_bytes == v.flash.hbm.read_bytes)
        #expect(unshared.flash.hbm.write_bytes - v.flash.hbm.write_bytes == v.flash.l2!.dirty_bytes!)
        // FLOPs: gpusim's own count is within 5 % of FlashAttention-2's convention for the flash pass.
        #expect(abs(Double(v.flash.flops.total) / v.conventionFLOPs - 1) < 0.05)
        // Block-size sweep: traffic falls as the block grows and the runtime flattens.
        let bytes = v.sweep.map(\.bytes), times = v.sweep.map(\.time)
        #expect(zip(bytes, bytes.dropFirst()).allSatisfy { $0 > $1 })
        #expect(times[0] > 1.5 * times[2])
        #expect(abs(times[3] / times[2] - 1) < 0.05)
    }
}
