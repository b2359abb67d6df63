import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

/// `gpusim infer` against figures derived here from the model's sizes and the preset's rates.
@Suite struct InferenceTests {
    let a100 = GPUModel.preset(named: "a100-80gb")!
    static let llama = "Kernels/models/llama2_7b.kern"
    /// Llama 2 7B: 32 layers, d 4096, 32 heads of 128, vocabulary 32000, 6,738,415,616 f16 weights.
    static let (L, d, vocab, weights): (Int64, Int64, Int64, Int64) = (32, 4096, 32000, 6_738_415_616)

    /// Summing evenly growing decode steps from their ends gives what interpreting every step
    /// gives, across the steps where a new key tile (every 64 positions) starts.
    @Test func summedStepsEqualEveryStep() throws {
        var o = smallModelSizes(Self.llama)
        o["ctx"] = .int(512)
        let request = Inference.Request(batch: 3, prompt: 50, generate: 150)
        let fast = try Inference(program: try program(Self.llama), gpu: a100, request: request, overrides: o)
        let all = try Inference(program: try program(Self.llama), gpu: a100, request: request, overrides: o, everyStep: true)
        // Three tile boundaries (P + 1 = 65, 129, 193) each cost a few bisections.
        #expect(all.decode_steps_run == 149 && fast.decode_steps_run < 149 / 2)
        #expect(fast.decode.counts == all.decode.counts)
        for (a, b) in zip(fast.decode.times, all.decode.times) { #expect(abs(a - b) <= 1e-9 * abs(b)) }
        #expect(fast.prefill == all.prefill && fast.last_step == all.last_step)
    }

    /// Decoding Llama 2 7B one sequence at a time is memory-bound: each step reads every weight
    /// (one row of the embedding table) and the cache so far, at the achievable HBM rate
    /// (2039 GB/s x 0.88), and each of its launches takes the preset's 2.6 us launch latency
    /// on top (16 per layer: norms, 7 GEMMs, 2 ropes, the cache write, attention, the gate,
    /// 2 residual adds; and the embedding, final norm, LM head, sampling and the last-position
    /// copy). The bandwidth alone is a floor the step cannot beat.
    @Test func decodingOneSequenceIsMemoryBound() throws {
        let (prompt, generate): (Int64, Int64) = (128, 8)
        let r = try Inference(program: try program(Self.llama), gpu: a100, request: .init(batch: 1, prompt: prompt, generate: generate))
        #expect(r.decode.bound == .memory)
        let weightBytes = (Self.weights - Self.vocab * Self.d) * 2 + Self.d * 2
        let rate = a100.hbmBandwidth * a100.hbmEfficiency
        let launches = Double(16 * Self.L + 5)
        var floor = 0.0, derived = 0.0
        for s in 0..<(generate - 1) {
            let cache = 2 * Self.L * (prompt + s + 1) * Self.d * 2          // keys and values read, this token's included
            floor += Double(weightBytes + cache) / rate
            derived += Double(weightBytes + cache) / rate + launches * a100.launchLatency!
        }
        let tpot = try #require(r.tpot), steps = Double(generate - 1)
        #expect(tpot >= floor / steps)
        // What it achieves: bytes over time, below the preset's achievable rate.
        let achieved = try #require(r.decode_bandwidth)
        #expect(achieved < rate && achieved > 0.7 * rate)
        #expect(abs(tpot - derived / steps) / (derived / steps) < 0.10, "TPOT \(tpot) against \(derived / steps)")
        // Memory: the weights, the cache for prompt + generate tokens, and little else.
        #expect(r.memory.weights == Self.weights * 2)
        #expect(r.memory.kv_cache == 2 * Self.L * (prompt + generate) * Self.d * 2)
    }

    /// A published measurement: gpt-fast (pytorch-labs/gpt-fast README, Benchmarks) decodes
    /// Llama-2-7B in f16 at batch 1 from a 5-token prompt at 104.9 tokens/s on an A100-80GB,
    /// compiled into CUDA graphs (so no launch gaps), on a part power-limited to 330 W whose
    /// copies peak near 1,700 GB/s. gpusim's decode steps, at the full-power preset, come out
    /// within 10 % of it (faster, as the power limit says they should be); bytes over the
    /// achievable bandwidth alone would be 28 % too fast.
    @Test func decodeMatchesGptFastOnTheA100() throws {
        let r = try Inference(program: try program(Self.llama), gpu: a100, request: .init(batch: 1, prompt: 5, generate: 200))
        let tokensPerSecond = 1 / (try #require(r.tpot))
        #expect(tokensPerSecond > 104.9 && tokensPerSecond < 104.9 * 1.10, "\(tokensPerSecond) tokens/s")
    }

    /// Batching turns decoding's GEMMs compute-bound where their arithmetic intensity (about the
    /// batch: 2 B K N FLOPs over the 2 K N bytes of a weight matrix) passes the ridge of the
    /// preset's achievable rates, 312 T x 0.8 / (2039 G x 0.88) = 139 FLOP/byte. Grids rounded up
    /// to whole rounds of 108 SMs leave some idle, which moves the crossover below the ridge by at
    /// most the worst rounding of the model's GEMM grids (1.5x here).
    @Test func batchingCrossesTheRidge() throws {
        let ridge = (a100.matmulFlops * a100.computeEfficiency) / (a100.hbmBandwidth * a100.hbmEfficiency)
        #expect(abs(ridge - 139.1) < 0.1)
        var bounds: [(Int64, Bound)] = []
        for b: Int64 in [1, 16, 48, 96, 128, 192, 256] {
            let r = try Inference(program: try program(Self.llama), gpu: a100, request: .init(batch: b, prompt: 16, generate: 2))
            let gemm = try #require(r.decode_kernels.max { $0.flops < $1.flops })
            #expect(gemm.name == "matmul")
            bounds.append((b, gemm.bound))
        }
        let firstCompute = try #require(bounds.first { $0.1 == .compute }?.0)
        let lastMemory = try #require(bounds.last { $0.1 == .memory }?.0)
        #expect(bounds.first!.1 == .memory && bounds.last!.1 == .compute)
        #expect(lastMemory < firstCompute)
        #expect(Double(firstCompute) >= ridge / 1.5 && Double(lastMemory) <= ridge * 1.5, "\(bounds)")
    }

    /// Two-way tensor parallelism: every weight but the norms is split in two, and each layer's
    /// attention and MLP outputs are all-reduced (plus the embedding's all-reduce and the
    /// logits' all-gather), costed as ring collectives on NVLink: 2 (n - 1) steps (n - 1 for a
    /// gather) of 1 us plus a 1/n chunk at 600 GB/s / 2 x 0.8.
    @Test func tensorParallelismHalvesTheWeightsAndAddsTwoAllReducesPerLayer() throws {
        let p = try program(Self.llama)
        func weights(_ tp: Int64) throws -> Int64 {
            try ParameterCount(program: p, gpu: a100, overrides: ["tp": .int(tp)]).totalBytes
        }
        let norms = (2 * Self.L + 1) * Self.d * 2
        #expect(try weights(2) * 2 == Self.weights * 2 + norms)
        let step: [String: ParamValue] = ["tp": .int(2), "B": .int(4), "T": .int(1), "P": .int(100), "ctx": .int(128)]
        let s = try Runner.run(p, options: RunOptions(gpu: a100, overrides: step))
        let c = try #require(s.collectives)
        #expect(c.count == 2 * Self.L + 2)
        let rate = 600e9 / 2 * 0.8
        func ring(_ bytes: Int64, steps: Double) -> Double { steps * (1e-6 + Double(bytes) / 2 / rate) }
        let x = 4 * Self.d * 2, logits = 4 * Self.vocab * 2
        let derived = Double(2 * Self.L + 1) * ring(x, steps: 2) + ring(logits, steps: 1)
        #expect(abs(c.time - derived) < 1e-12, "\(c.time) against \(derived)")
        #expect(s.time.collective == c.time)
        let one = try Runner.run(p, options: RunOptions(gpu: a100, overrides: step.merging(["tp": .int(1)]) { $1 }))
        #expect(one.collectives == nil && abs(s.time.total - s.time.kernel! - s.time.launch_gaps! - c.time) < 1e-12)
        // Each GPU reads half the layer weights and half the cache.
        #expect(abs(Double(s.hbm.read_bytes) / Double(one.hbm.read_bytes) - 0.5) < 0.01)
    }

    /// The largest batch is the last whose memory fits: one more does not, and is not run.
    @Test func theLargestBatchFitsAndOneMoreDoesNot() throws {
        let p = try program(Self.llama)
        let r = try Inference(program: p, gpu: a100, request: .init(batch: 1, prompt: 1024, generate: 1024))
        let most = try #require(r.max_batch)
        #expect(most > 1)
        let at = try Inference(program: p, gpu: a100, request: .init(batch: most, prompt: 1024, generate: 1))
        #expect(at.memory.total <= a100.hbmBytes!)
        let over = try Inference(program: p, gpu: a100, request: .init(batch: most + 1, prompt: 1024, generate: 1024))
        #expect(!over.fits && over.prefill == nil && over.memory.total > a100.hbmBytes!)
        // The cache alone: 2 x 32 layers x 2048 tokens x 4096 x 2 bytes = 1 GiB a sequence.
        #expect(over.memory.kv_cache == (most + 1) * (1 << 30))
    }

    @Test func aKernelThatIsNotAStepIsNamed() throws {
        #expect(throws: SimulationError.self) { try Inference(program: try program("Kernels/flash_attention.kern"), gpu: a100, request: .init(batch: 1, prompt: 8, generate: 8)) }
        // The seed's presets count cycles: no tokens per second there.
        #expect(throws: SimulationError.self) { try Inference(program: try program(Self.llama), gpu: GPUModel.preset(named: "seed-a100")!, request: .init(batch: 1, prompt: 8, generate: 8)) }
        do {
            _ = try Inference(program: try program(Self.llama), gpu: a100, request: .init(batch: 1, prompt: 4000, generate: 200))
            Issue.record("a request past the context ran")
        } catch let e as SimulationError {
            #expect(e.description.contains("--prompt 4000 + --generate 200 = 4200 tokens is more than the model's context of 4096"))
        }
    }
}

/// A shipped model's small test sizes as overrides.
func smallModelSizes(_ path: String) -> [String: ParamValue] {
    var o = (smallSizes[path] ?? [:]).mapValues { ParamValue.int($0) }
    for k in Inference.stepParams where k != "ctx" { o[k] = nil }
    return o
}
