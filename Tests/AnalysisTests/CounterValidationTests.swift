import Foundation
import Testing
@testable import Analysis
import Simulator

/// gpusim against the public H100 counters (docs/model.md, "Validation status"; what `gpusim
/// validate --gpu h100-sxm` prints). The measured side comes from measurements.json, summed by
/// the people who measured from the ncu CSVs; the predictions are runs of the shipped kernels.
@Suite struct CounterValidationTests {
    /// Each workload's (DRAM, time) error in percent, (predicted - measured) / measured, as
    /// docs/model.md's table gives them: a model change that moves a row by more than a
    /// percentage point shows here, and the table is regenerated with it.
    static let pinned: [String: (dram: Double, time: Double)] = [
        "decode_mha_b16_ctx4096": (-0.2, +3.2),
        "flash 1024 64 1024 fw": (-2.2, -10.8),
        "flash 2048 128 16 fw": (-2.0, -24.4),
        "flash 2048 64 16 fw": (-0.9, -15.1),
        "flash 8192 64 16 fw": (-5.0, -8.9),
        "gemm_4096": (+28.3, +11.7),
        "gemm_gpt2_qkv": (+4.9, -6.1),
        "gemv_llama_q": (-3.9, -12.8),
        "rmsnorm_8192x4096": (-0.8, -18.9),
        "standard 1024 64 1024 fw": (+0.1, -8.1),
        "standard 1024 64 16 fw": (+1.6, -25.3),
        "standard 4096 64 16 fw": (+0.2, -31.0),
        "standard 8192 128 16 fw": (-0.5, -38.9),
        "triton 128 128 2048 64 16": (-0.2, -9.8),
        "triton 128 16 2048 64 16": (-0.1, -2.2),
        "triton 128 32 2048 64 16": (-0.1, -8.0),
        "triton 128 64 2048 64 16": (-0.1, +6.3),
        "triton 16 128 2048 64 16": (-0.1, -24.4),
        "triton 16 16 2048 64 16": (-0.1, -68.7),
        "triton 16 32 2048 64 16": (-0.1, -48.9),
        "triton 16 64 2048 64 16": (-0.1, -30.3),
        "triton 32 128 2048 64 16": (-0.1, -47.2),
        "triton 32 16 2048 64 16": (-1.4, -74.4),
        "triton 32 32 2048 64 16": (-0.1, -62.0),
        "triton 32 64 2048 64 16": (-0.1, -31.6),
        "triton 64 128 2048 64 16": (-0.2, -3.0),
        "triton 64 16 2048 64 16": (-0.1, +3.6),
        "triton 64 32 2048 64 16": (-0.1, +8.3),
        "triton 64 64 2048 64 16": (-0.1, -0.0),
    ]

    @Test func theH100ErrorTable() throws {
        let v = try CounterValidation(measurementsPath: h100Reference.appendingPathComponent("measurements.json").path,
                                      gpu: GPUModel.preset(named: "h100-sxm")!)
        #expect(v.skipped.isEmpty)
        #expect(Set(v.rows.map(\.workload)) == Set(Self.pinned.keys))
        for row in v.rows {
            let p = try #require(Self.pinned[row.workload])
            #expect(abs(row.dram_error * 100 - p.dram) <= 1, "\(row.workload): DRAM \(row.dram_error * 100) %")
            #expect(abs(row.time_error * 100 - p.time) <= 1, "\(row.workload): time \(row.time_error * 100) %")
        }
        // What the issue asks of DRAM bytes: a median within 5 %.
        #expect(v.medianDRAMError <= 0.05)
    }

    @Test func gemmTilesComeFromTheMeasuredKernelsName() {
        #expect(CounterValidation.gemmTile(kernelName: "nvjet_sm90_hsh_256x128_64x4_1x2_h_bz_coopA_NNT")! == (256, 128))
        #expect(CounterValidation.gemmTile(kernelName: "nvjet_sm90_hsh_192x192_64x3_2x1_v_bz_coopB_NNN")! == (192, 192))
        #expect(CounterValidation.gemmTile(kernelName: "void at::softmax") == nil)
    }
}
