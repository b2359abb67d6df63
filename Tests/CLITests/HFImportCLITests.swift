import Foundation
import Testing

/// `gpusim import hf`: Hugging Face configs (their published values) become model kernels whose
/// parameter counts are the published ones, exactly.
@Suite(.serialized) struct HFImportCLITests {
    func tmp() throws -> URL { try freshFolder("hf") }

    /// config.json fields as the models' Hugging Face repositories publish them, and each
    /// model's parameter count as its model card / paper gives it.
    static let models: [(name: String, config: String, parameters: Int)] = [
        ("gpt2", #"{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "n_ctx": 1024, "n_inner": null, "vocab_size": 50257}"#, 124_439_808),
        ("llama2_7b", #"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096, "vocab_size": 32000, "tie_word_embeddings": false, "torch_dtype": "float16"}"#, 6_738_415_616),
        ("mistral_7b", #"{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "max_position_embeddings": 32768, "sliding_window": 4096, "vocab_size": 32000, "tie_word_embeddings": false, "torch_dtype": "bfloat16"}"#, 7_241_732_096),
        ("llama3_8b", #"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "max_position_embeddings": 8192, "vocab_size": 128256, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "rope_theta": 500000.0}"#, 8_030_261_248),
        ("mixtral_8x7b", #"{"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2, "rope_theta": 1e6, "router_aux_loss_coef": 0.02, "sliding_window": null, "vocab_size": 32000, "tie_word_embeddings": false, "torch_dtype": "bfloat16"}"#, 46_702_792_704),
        ("qwen2_05b", #"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2, "max_position_embeddings": 131072, "sliding_window": 131072, "use_sliding_window": false, "vocab_size": 151936, "tie_word_embeddings": true, "torch_dtype": "bfloat16"}"#, 494_032_768),
    ]

    func json(_ r: Result) throws -> [String: Any] { try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any] }

    @Test func publishedParameterCountsExactly() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        for m in Self.models {
            let config = dir.appendingPathComponent("\(m.name).json"), kern = dir.appendingPathComponent("\(m.name).kern")
            try m.config.write(to: config, atomically: true, encoding: .utf8)
            // From another folder: the written kernel imports the stack from the library.
            let r = try gpusim(["import", "hf", config.path, "-o", kern.path], cwd: dir)
            #expect(r.status == 0, "\(m.name): \(r.err)")
            let params = try gpusim(["params", kern.path, "--json"], cwd: dir)
            #expect(try json(params)["total"] as? Int == m.parameters, "\(m.name)")
            // Mixtral's 93.4 GB of weights need a GPU with more than 80 GB.
            let gpu = m.parameters * 2 > 80_000_000_000 ? "h200" : "h100-sxm"
            #expect(try gpusim(["run", kern.path, "--gpu", gpu, "--T", "64"], cwd: dir).status == 0, "\(m.name) runs")
        }
    }

    @Test func importedShippedModelsGiveTheShippedFigures() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (m, shipped) in [(Self.models[0], "models/gpt2_small"), (Self.models[1], "models/llama2_7b")] {
            let config = dir.appendingPathComponent("\(m.name).json"), kern = dir.appendingPathComponent("\(m.name).kern")
            try m.config.write(to: config, atomically: true, encoding: .utf8)
            _ = try gpusim(["import", "hf", config.path, "-o", kern.path])
            let a = try json(gpusim(["run", kern.path, "--gpu", "h100-sxm", "--T", "128", "--json"]))
            let b = try json(gpusim(["run", shipped, "--gpu", "h100-sxm", "--T", "128", "--json"]))
            for key in ["hbm", "l2", "flops", "time"] {
                #expect(NSDictionary(dictionary: a[key] as! [String: Any]).isEqual(to: b[key] as! [String: Any]), "\(m.name) \(key)")
            }
        }
    }

    /// Mixtral's 93.4 GB do not fit one 80 GB H100; split over two (--tp 2) they serve.
    @Test func mixtralServesOnTwoGPUs() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = Self.models[4]
        let config = dir.appendingPathComponent("\(m.name).json"), kern = dir.appendingPathComponent("\(m.name).kern")
        try m.config.write(to: config, atomically: true, encoding: .utf8)
        _ = try gpusim(["import", "hf", config.path, "-o", kern.path])
        func serve(_ extra: [String]) throws -> [String: Any] {
            let r = try gpusim(["infer", kern.path, "--gpu", "h100-sxm", "--batch", "4", "--prompt", "64", "--generate", "3", "--json"] + extra, cwd: dir)
            return try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        }
        let one = try serve([]), two = try serve(["--tp", "2"])
        #expect(one["fits"] as? Bool == false && one["max_batch"] as? Int == 0)
        #expect(two["fits"] as? Bool == true && (two["tpot"] as? Double ?? 0) > 0)
        let w1 = (one["memory"] as! [String: Any])["weights"] as! Int, w2 = (two["memory"] as! [String: Any])["weights"] as! Int
        #expect(Double(w2) / Double(w1) > 0.5 && Double(w2) / Double(w1) < 0.5001)   // all but the norms and router split
    }

    @Test func unknownArchitecturesAndMissingFieldsAreNamed() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        func importing(_ text: String) throws -> Result {
            let config = dir.appendingPathComponent("c.json")
            try text.write(to: config, atomically: true, encoding: .utf8)
            return try gpusim(["import", "hf", config.path, "-o", dir.appendingPathComponent("m.kern").path])
        }
        let missing = try importing(#"{"model_type": "llama", "hidden_size": 64}"#)
        #expect(missing.status == 1 && missing.err.hasSuffix("c.json: missing field 'num_attention_heads' (a llama config needs it)\n"))
        let unknown = try importing(#"{"model_type": "falcon", "architectures": ["FalconForCausalLM"]}"#)
        #expect(unknown.err.contains("model_type 'falcon' (FalconForCausalLM) is not one gpusim imports; known: llama, mistral, mixtral, qwen2, gpt2"))
        let experts = try importing(#"{"model_type": "mixtral", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100, "max_position_embeddings": 64}"#)
        #expect(experts.err.hasSuffix("c.json: missing field 'num_local_experts' (a mixtral config needs it)\n"))
        #expect(try importing("not json").err.contains("not valid JSON"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.kern").path))
    }
}
