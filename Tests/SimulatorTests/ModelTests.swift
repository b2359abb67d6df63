import Foundation
import Testing
import KernLang
import Numerics
import TestSupport
@testable import Simulator

/// Small sizes at which the whole models also run with values (tests and CLI checks use them).
let smallModelParams: [String: [String: ParamValue]] = smallSizes.mapValues { $0.mapValues { .int($0) } }

@Suite struct ModelTests {
    let a100 = GPUModel.preset(named: "a100-80gb")!

    func tensors(_ path: String, _ o: [String: ParamValue] = [:]) throws -> [String: Int64] {
        let t = try Interpreter(program: try program(path), options: RunOptions(gpu: a100, overrides: o)).resolveTensors()
        var out: [String: Int64] = [:]
        for x in t where x.role == .weight { out[x.name] = x.shape.reduce(1, *) }
        return out
    }

    @Test func parameterCountsMatchThePublishedModels() throws {
        let llama = try tensors("Kernels/models/llama2_7b.kern")
        #expect(llama.values.reduce(0, +) == 6_738_415_616)
        #expect(llama.values.reduce(0, +) - llama["W3"]! == 5_295_575_040)   // the seeds' two-matrix FFN count
        #expect(try tensors("Kernels/models/gpt2_small.kern").values.reduce(0, +) == 124_439_808)
    }

    @Test func kvCacheBytesPerToken() throws {
        func perToken(_ o: [String: ParamValue]) throws -> Int64 {
            let t = try Interpreter(program: try program("Kernels/models/llama2_7b.kern"), options: RunOptions(gpu: a100, overrides: o)).resolveTensors()
            let caches = t.filter { $0.role == .cache }   // [L, B, ctx, KVH hd]
            return caches.reduce(0) { $0 + $1.bytes } / (caches[0].shape[1] * caches[0].shape[2])
        }
        #expect(try perToken([:]) == 524_288)
        #expect(try perToken(["KVH": .int(8)]) == 131_072)
    }

    @Test func fullSizeModelsRunShapeOnly() throws {
        let prefill = try Runner.run(try program("Kernels/models/llama2_7b.kern"), options: RunOptions(gpu: a100))
        #expect(!prefill.sram.overflow)
        let matmuls: Int64 = 32 * 7 + 1
        #expect(prefill.kernels["matmul"]?.launches == matmuls)
        #expect(prefill.hbm.peak_bytes > 13_476_831_232)   // the weights alone
        // Prefill: with the blocks of a wave sharing GEMM operand tiles through L2, the GEMMs are
        // compute-bound. (GPT-2 small's fused MLP, which also writes and reads back its 4d-wide
        // hidden activations, sits at the ridge, and so does its whole prefill.)
        #expect(prefill.bound == .compute)
        for model in ["Kernels/models/llama2_7b.kern", "Kernels/models/gpt2_small.kern"] {
            let prefill = try Runner.run(try program(model), options: RunOptions(gpu: a100))
            let gemms = prefill.kernels.filter { ["matmul", "linear"].contains($0.key) }
            #expect(!gemms.isEmpty && gemms.values.allSatisfy { $0.bound == .compute }, "\(model)")
        }
        let step: [String: ParamValue] = ["T": .int(1), "P": .int(4095)]
        let decode = try Runner.run(try program("Kernels/models/llama2_7b.kern"), options: RunOptions(gpu: a100, overrides: step))
        #expect(decode.bound == .memory)
        #expect(!decode.sram.overflow)
        // Decoding reads every weight once (but one row of the embedding table) and the whole KV cache.
        let weights: Int64 = 13_476_831_232 - 32_000 * 4096 * 2, cache: Int64 = 2 * 32 * 4096 * 4096 * 2
        // Beyond those, only activations: each GEMV re-reads its 8 KB input row per column tile (~50 MB in all).
        #expect(decode.hbm.read_bytes > weights + cache && decode.hbm.read_bytes < weights + cache + 100_000_000)
        let gqa = try Runner.run(try program("Kernels/models/llama2_7b.kern"), options: RunOptions(gpu: a100, overrides: step.merging(["KVH": .int(8)]) { a, _ in a }))
        #expect(gqa.tensors["Kc"]!.read_bytes * 4 == decode.tensors["Kc"]!.read_bytes)
        let gpt2 = try Runner.run(try program("Kernels/models/gpt2_small.kern"), options: RunOptions(gpu: a100))
        #expect(!gpt2.sram.overflow)
        #expect(gpt2.kernels["cached_attention"]?.launches == 12)
    }

    /// A generation step continues a sequence exactly: prefilling N tokens and then decoding
    /// token N + 1 over the cache the prefill left gives the logits (and candidates) that a
    /// prefill of all N + 1 tokens gives for its last position. Reference: that longer prefill.
    @Test(arguments: ["Kernels/models/llama2_7b.kern", "Kernels/models/gpt2_small.kern"])
    func decodeStepContinuesThePrefill(_ path: String) throws {
        var rng = SeededRandom(seed: 7)
        let (B, N) = (2, 9)
        var sizes = smallModelParams[path]!
        sizes["dt"] = .dtype("f32")
        let small = smallSizes[path]!, vocab = Int(small["vocab"]!), hd = Int(small["d"]! / small["H"]!)
        let tokens = (0..<B).map { _ in (0...N).map { _ in Double(Int(rng.next() % UInt64(vocab))) } }
        let angles = (0...N).map { _ in (0..<(hd / 2)).map { _ in Double(Float(rng.normal())) } }
        /// The inputs of a step over positions `from ..< to` of every sequence.
        func inputs(_ from: Int, _ to: Int) -> [String: NPY.Array] {
            let rows = B * (to - from)
            var ids: [Double] = [], table: [Double] = []
            for b in 0..<B { for t in from..<to { ids.append(tokens[b][t]); table += angles[t] } }
            var out: [String: NPY.Array] = ["ids": .init(shape: [rows], values: ids)]
            if path.contains("llama") {
                out["rope_cos"] = .init(shape: [rows, hd / 2], values: table.map(cos))
                out["rope_sin"] = .init(shape: [rows, hd / 2], values: table.map(sin))
            }
            return out
        }
        func run(T: Int, P: Int, _ extra: [String: NPY.Array]) throws -> [String: OutputTensor] {
            var numeric = NumericOptions()
            numeric.accumulate64 = true
            numeric.inputs = inputs(P, P + T).merging(extra) { a, _ in a }
            var o = sizes
            o["B"] = .int(Int64(B)); o["T"] = .int(Int64(T)); o["P"] = .int(Int64(P))
            return try Runner.runNumeric(try program(path), options: RunOptions(gpu: a100, overrides: o), numeric: numeric).outputs
        }
        let whole = try run(T: N + 1, P: 0, [:])
        let prefill = try run(T: N, P: 0, [:])
        var cache: [String: NPY.Array] = [:]
        for name in ["Kc", "Vc"] { cache[name] = .init(shape: prefill[name]!.shape.map(Int.init), values: prefill[name]!.values) }
        let step = try run(T: 1, P: N, cache)
        let c = Comparison(step["logits"]!.values, reference: whole["logits"]!.values)
        #expect(c.relativeFrobenius < 1e-5 && c.nonFinite == 0, "\(path): \(c.relativeFrobenius)")
        #expect(step["top_ids"]!.values == whole["top_ids"]!.values)
    }

    @Test(arguments: smallModelParams.keys.sorted())
    func modelsRunWithValuesAtSmallSizes(_ path: String) throws {
        let r = try Runner.runNumeric(try program(path), options: RunOptions(gpu: a100, overrides: smallModelParams[path]!), numeric: NumericOptions())
        #expect(!r.outputs.isEmpty)
        for (_, o) in r.outputs {
            let finite = o.values.allSatisfy { $0.isFinite }
            #expect(finite)
        }
    }
}

@Suite struct BackwardPassTests {
    /// FlashAttention's forward and backward (recomputing S and P from the saved statistics)
    /// give the same O, dQ, dK and dV as eager standard attention, on the same seeded inputs.
    @Test func flashBackwardMatchesEagerStandard() throws {
        let gpu = GPUModel.preset(named: "a100-80gb")!
        var numeric = NumericOptions()
        numeric.seed = 4
        func outputs(_ path: String) throws -> [String: OutputTensor] {
            var p = smallModelParams[path]!
            p["dt"] = .dtype("f32")
            return try Runner.runNumeric(try program(path), options: RunOptions(gpu: gpu, overrides: p), numeric: numeric).outputs
        }
        let flash = try outputs("Kernels/paper/flash_attention_v1.kern"), eager = try outputs("Kernels/paper/standard_attention_eager.kern")
        for name in ["O", "dQ", "dK", "dV"] {
            let c = Comparison(flash[name]!.values, reference: eager[name]!.values)
            #expect(c.relativeFrobenius < 1e-5 && c.nonFinite == 0, "\(name): \(c.relativeFrobenius)")
        }
    }
}
