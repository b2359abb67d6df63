import Foundation
import Testing
@testable import Analysis
import Simulator
import TestSupport

/// gpusim against the public H100 counters (docs/model.md, "Validation status"; what `gpusim
/// validate --gpu h100-sxm` prints). The measured side comes from measurements.json, summed by
/// the people who measured from the ncu CSVs; the predictions are runs of the shipped kernels.
@Suite struct CounterValidationTests {
    /// Each workload's (DRAM, time) error in percent, (predicted - measured) / measured, as
    /// docs/model.md's table gives them: a model change that moves a row by more than a
    /// percentage point shows here, and the table is regenerated with it.
    static let pinned: [String: (dram: Double, time: Double)] = [
        "decode_mha_b16_ctx4096": (-0.2, +3.2),
        "flash 1024 64 1024 fw": (-2.2, +8.6),
        "flash 2048 128 16 fw": (-2.0, -5.2),
        "flash 2048 64 16 fw": (-0.9, +2.0),
        "flash 8192 64 16 fw": (-5.0, +10.0),
        "gemm_4096": (+10.7, +2.3),
        "gemm_gpt2_qkv": (+4.9, -6.5),
        "gemv_llama_q": (-3.9, -12.7),
        "rmsnorm_8192x4096": (-0.8, -0.6),
        "standard 1024 64 1024 fw": (+0.1, -1.1),
        "standard 1024 64 16 fw": (+1.6, -20.0),
        "standard 4096 64 16 fw": (+0.2, -25.6),
        "standard 8192 128 16 fw": (-0.5, -34.1),
        "triton 128 128 2048 64 16": (-0.2, -10.1),
        "triton 128 16 2048 64 16": (-0.1, -4.9),
        "triton 128 32 2048 64 16": (-0.1, -11.3),
        "triton 128 64 2048 64 16": (-0.1, +4.7),
        "triton 16 128 2048 64 16": (-0.1, -24.4),
        "triton 16 16 2048 64 16": (-0.1, -9.4),
        "triton 16 32 2048 64 16": (-0.1, -24.8),
        "triton 16 64 2048 64 16": (-0.1, -30.3),
        "triton 32 128 2048 64 16": (-0.1, -43.1),
        "triton 32 16 2048 64 16": (-1.4, -47.3),
        "triton 32 32 2048 64 16": (-0.1, -52.1),
        "triton 32 64 2048 64 16": (-0.1, -47.7),
        "triton 64 128 2048 64 16": (-0.2, -3.3),
        "triton 64 16 2048 64 16": (-0.1, +0.8),
        "triton 64 32 2048 64 16": (-0.1, -12.0),
        "triton 64 64 2048 64 16": (-0.1, -1.5),
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

    /// FlashAttention-2 on the H100 as the FlashAttention-3 paper measured it (arXiv
    /// 2407.08608, the forward and backward speed charts on H100 SXM5: 16k tokens a batch,
    /// hidden 2048; FLOPs 4 N^2 d heads batch for the forward, halved when causal, x 2.5 for
    /// the backward). Modelled as `gpusim validate` models such a workload, each within 10 %:
    /// forward at head dim 128, 368 TFLOP/s at N 4k and 370 at 16k; causal forward 319 and 335;
    /// backward at head dim 64, 264 at N 2k and 291 at 16k, at 128, 291 and 322 (without global
    /// accumulations, the dQ read-modify-writes, the backward was 31-37 % fast).
    @Test func flashAttention2MatchesThePublishedH100Speeds() throws {
        let h100 = GPUModel.preset(named: "h100-sxm")!
        let cases: [(d: Int, n: Int, causal: Bool, backward: Bool, published: Double)] = [
            (128, 4096, false, false, 368), (128, 16384, false, false, 370),
            (128, 4096, true, false, 319), (128, 16384, true, false, 335),
            (64, 2048, false, true, 264), (64, 16384, false, true, 291), (128, 2048, false, true, 291), (128, 16384, false, true, 322),
        ]
        for c in cases {
            let bh = (16384 / c.n) * (2048 / c.d)
            let params: [String: ParamValue] = ["N": .int(Int64(c.n)), "d": .int(Int64(c.d)), "BH": .int(Int64(bh)),
                                                "causal": .bool(c.causal), "direction": .dtype(c.backward ? "backward" : "forward")]
            let (kernel, p) = try CounterValidation.model("sdpa_flash", params).get()
            let s = try Runner.run(try program("Kernels/\(kernel).kern"), options: RunOptions(gpu: h100, overrides: p))
            let flops = 4 * Double(c.n * c.n * c.d * bh) * (c.causal ? 0.5 : 1) * (c.backward ? 2.5 : 1)
            let tflops = flops / (try #require(s.time.kernel)) / 1e12
            #expect(abs(tflops - c.published) / c.published < 0.10, "\(c): \(tflops) TFLOP/s against \(c.published)")
        }
    }

    /// A GEMM size the table does not hold, against the ceiling measured on the same H100
    /// (the reference README: dense fp16 GEMM 8192^3 at 751 TFLOP/s), with the 256 x 128 tile
    /// cuBLAS picks for large squares (gemm_4096's kernel): within 5 %.
    @Test func largeGEMMReachesTheMeasuredCeiling() throws {
        let n: Int64 = 8192
        let s = try Runner.run(try program("Kernels/stack/matmul.kern"),
                               options: RunOptions(gpu: GPUModel.preset(named: "h100-sxm")!, overrides: ["T": .int(n), "K": .int(n), "N": .int(n), "BM": .int(256), "BN": .int(128)]))
        let measured = 2 * Double(n * n * n) / 751e12
        let predicted = try #require(s.time.kernel)
        #expect(abs(predicted - measured) / measured < 0.05, "\(predicted) s against \(measured) s")
    }

    @Test func gemmTilesComeFromTheMeasuredKernelsName() {
        #expect(CounterValidation.gemmTile(kernelName: "nvjet_sm90_hsh_256x128_64x4_1x2_h_bz_coopA_NNT")! == (256, 128))
        #expect(CounterValidation.gemmTile(kernelName: "nvjet_sm90_hsh_192x192_64x3_2x1_v_bz_coopB_NNN")! == (192, 192))
        #expect(CounterValidation.gemmTile(kernelName: "void at::softmax") == nil)
    }

    /// Held-out workloads may be of kinds no shipped kernel models yet: each is named with why,
    /// never modelled as something else, and never stops the others.
    @Test func workloadsWithoutAKernelAreNamedNotGuessed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tail = #""ncu_file": "none.csv", "dram_read_bytes": 1000000, "dram_write_bytes": 0, "kernel_time_ns": 10000"#
        let file = """
        {"bwd": {"workload": "sdpa_flash", "params": {"N": 1024, "d": 64, "BH": 16, "causal": false, "direction": "backward"}, \(tail)},
         "eager bwd": {"workload": "eager", "params": {"N": 1024, "d": 64, "BH": 16, "causal": false, "direction": "backward"}, \(tail)},
         "norm bwd": {"workload": "rmsnorm", "params": {"T": 1024, "D": 1024, "direction": "backward"}, \(tail)},
         "causal eager bwd": {"workload": "eager", "params": {"N": 1024, "d": 64, "BH": 16, "causal": true, "direction": "backward"}, \(tail)},
         "causal eager": {"workload": "eager", "params": {"N": 1024, "d": 64, "BH": 16, "causal": true, "direction": "forward"}, \(tail)},
         "no d": {"workload": "sdpa_flash", "params": {"N": 1024, "BH": 16}, \(tail)},
         "refused": {"workload": "decode_attention", "params": {"B": 1, "H": 32, "KVH": 5, "ctx": 128, "d": 64}, \(tail)},
         "causal flash": {"workload": "sdpa_flash", "params": {"N": 1024, "d": 64, "BH": 16, "causal": true, "direction": "forward"}, \(tail)},
         "layernorm": {"workload": "layernorm", "params": {"T": 1024, "D": 1024}, \(tail)}}
        """
        let path = dir.appendingPathComponent("measurements.json").path
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        let v = try CounterValidation(measurementsPath: path, gpu: GPUModel.preset(named: "h100-sxm")!)
        let skipped = Dictionary(uniqueKeysWithValues: v.skipped)
        #expect(skipped["causal eager bwd"]?.contains("causal eager attention") == true)
        #expect(skipped["norm bwd"] == "the backward pass of 'rmsnorm' has no shipped kernel yet")
        #expect(skipped["no d"] == "its params have no 'd', which a 'sdpa_flash' workload needs")
        // The kernel's own check refuses 32 query heads over 5 key/value heads.
        #expect(skipped["refused"]?.contains("the query heads must split evenly over the key/value heads") == true)
        #expect(Set(v.rows.map(\.workload)) == ["bwd", "eager bwd", "causal eager", "causal flash", "layernorm"])
        #expect(v.rows.first { $0.workload == "causal eager" }?.params["causal"] == .int(1))
        #expect(v.rows.first { $0.workload == "eager bwd" }?.kernel == "stack/eager_attention_backward")
        // FlashAttention-2's backward: its own three-launch kernel, with the sm_80 build's tiles.
        let bwd = try #require(v.rows.first { $0.workload == "bwd" })
        #expect(bwd.kernel == "stack/sdpa_flash_backward")
        #expect(bwd.params["Br"] == .int(128) && bwd.params["Bc"] == .int(128) && bwd.params["arch"] == .int(80))
        // The causal kernel skips the key tiles after each query tile: about half the FLOPs.
        let causal = try #require(v.rows.first { $0.workload == "causal flash" })
        #expect(causal.params["causal"] == .int(1))
    }
}
