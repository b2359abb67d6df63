import Foundation

/// A Hugging Face `config.json` turned into a model kernel: the shipped model kernel of the same
/// family (`models/llama2_7b.kern` for Llama, Mistral, Mixtral and Qwen2; `models/gpt2_small.kern` for
/// GPT-2) with its sizes set from the config and, where the architecture differs, its text
/// changed the way a person would (biases on the projections, a tied LM head, a sliding
/// window). The result is ordinary source to read and edit.
public enum HFImport {
    /// The config fields gpusim reads (names as Hugging Face writes them).
    struct Config: Decodable {
        var architectures: [String]?
        var model_type: String?
        var hidden_size: Int64?
        var num_hidden_layers: Int64?
        var num_attention_heads: Int64?
        var num_key_value_heads: Int64?
        var head_dim: Int64?
        var intermediate_size: Int64?
        var vocab_size: Int64?
        var max_position_embeddings: Int64?
        var tie_word_embeddings: Bool?
        var attention_bias: Bool?
        var sliding_window: Int64?
        var torch_dtype: String?
        var n_embd: Int64?
        var n_layer: Int64?
        var n_head: Int64?
        var n_positions: Int64?
        var n_inner: Int64?
        var num_local_experts: Int64?
        var num_experts_per_tok: Int64?
    }

    enum Family { case llama, gpt2 }

    /// The kernel source for `config` (the text of a config.json at `source`), named `name`;
    /// templates are read from the kernel library folder `library`.
    public static func kernel(config data: Data, source: String, name: String, library: String) throws(ImportError) -> String {
        let c: Config
        do { c = try JSONDecoder().decode(Config.self, from: data) } catch let e as DecodingError {
            throw ImportError("\(source): not a Hugging Face config.json: \(describe(e))")
        } catch { throw ImportError("\(source): not JSON: \(error.localizedDescription)") }
        let type = (c.model_type ?? "").lowercased(), arch = c.architectures?.first ?? ""
        let family: Family
        switch type {
        case "llama", "mistral", "qwen2", "mixtral": family = .llama
        case "gpt2": family = .gpt2
        default:
            throw ImportError("\(source): model_type '\(c.model_type ?? "(none)")' (\(arch.isEmpty ? "no architectures" : arch)) is not one gpusim imports; known: llama, mistral, mixtral, qwen2, gpt2")
        }
        func need(_ v: Int64?, _ field: String) throws(ImportError) -> Int64 {
            guard let v else { throw ImportError("\(source): missing field '\(field)' (a \(type) config needs it)") }
            guard v > 0 else { throw ImportError("\(source): '\(field)' must be positive, got \(v)") }
            return v
        }
        let dtype: String
        switch c.torch_dtype ?? "float16" {
        case "float16": dtype = "f16"
        case "bfloat16": dtype = "bf16"
        case "float32": dtype = "f32"
        case let other: throw ImportError("\(source): torch_dtype '\(other)' is not float16, bfloat16 or float32")
        }
        var t: Template
        var what: [String]
        switch family {
        case .llama:
            let d = try need(c.hidden_size, "hidden_size"), H = try need(c.num_attention_heads, "num_attention_heads")
            let kvh = try need(c.num_key_value_heads ?? H, "num_key_value_heads"), L = try need(c.num_hidden_layers, "num_hidden_layers")
            let hd = try need(c.head_dim ?? (d / H), "head_dim")
            let dff = try need(c.intermediate_size, "intermediate_size"), vocab = try need(c.vocab_size, "vocab_size")
            let ctx = try need(c.max_position_embeddings, "max_position_embeddings")
            guard H % kvh == 0 else { throw ImportError("\(source): num_attention_heads (\(H)) must be a multiple of num_key_value_heads (\(kvh))") }
            t = try Template(library: library, path: "models/llama2_7b.kern", kernel: "llama2_7b")
            try t.set(["L": "\(L)", "d": "\(d)", "H": "\(H)", "KVH": "\(kvh)", "hd": "\(hd)", "dff": "\(dff)", "vocab": "\(vocab)", "ctx": "\(ctx)", "dt": dtype])
            what = ["\(L) layers", "d \(d)", "\(H) heads of \(hd)" + (kvh == H ? "" : ", \(kvh) key/value heads"), "SwiGLU MLP of \(dff)", "vocabulary \(vocab)"]
            // Qwen2 has biases on q, k and v; Llama-family configs say so with attention_bias (q, k, v and o).
            let biased: [(proj: String, out: String, width: String)] =
                type == "qwen2" ? [("q", "q", "Hg * hd"), ("k", "k", "KVHg * hd"), ("v", "v", "KVHg * hd")]
                : c.attention_bias == true ? [("q", "q", "Hg * hd"), ("k", "k", "KVHg * hd"), ("v", "v", "KVHg * hd"), ("o", "y", "d")] : []
            if !biased.isEmpty {
                try t.importing("stack/linear.kern")
                for (p, out, width) in biased {
                    let w = "W\(p)"
                    try t.replace(line: "    weight \(w)[", with: { "\($0)\n    weight b\(p)[L, \(width)] dt" })
                    try t.replace(line: "W = \(w)[l], Y = \(out))", with: { line in
                        line.replacingOccurrences(of: "run matmul(", with: "run linear(").replacingOccurrences(of: "W = \(w)[l], Y = ", with: "W = \(w)[l], b = b\(p)[l], Y = ")
                    })
                }
                what.append("biases on " + biased.map(\.proj).joined(separator: ", "))
            }
            if type == "mixtral" {
                // Each layer's MLP becomes a mixture of SwiGLU experts (stack/moe.kern, gated), every
                // token's choices kept: capacity factor 1 charges the T k slots a dropless router fills.
                let E = try need(c.num_local_experts, "num_local_experts"), k = try need(c.num_experts_per_tok, "num_experts_per_tok")
                guard k <= E else { throw ImportError("\(source): num_experts_per_tok (\(k)) is more than num_local_experts (\(E))") }
                try t.importing("stack/moe.kern")
                try t.remove(line: "import \"stack/silu_mul.kern\"")
                try t.replace(line: "    param dff = ", with: { "\($0)\n    param E = \(E)             # experts per layer\n    param experts_per_token = \(k)" })
                try t.replace(line: "    weight W1[", with: { _ in "    weight Wg[L, d, E] dt\n    weight W1[L, E, d, 2 * dffg] dt   # each expert's [up | gate]" })
                try t.remove(line: "    weight W3[")
                try t.replace(line: "    weight W2[", with: { _ in "    weight W2[L, E, dffg, d] dt" })
                for scratch in ["a", "c", "hmid"] { try t.remove(line: "    scratch \(scratch)[") }
                try t.replace(line: "W = W1[l], Y = a)", with: { _ in
                    "        run moe(T = B * T, d = d, dff = dffg, E = E, k = experts_per_token, gated = 1, capacity_factor = 1, dt = dt, BM = BM, BN = BN, BK = BK, X = xn, Wg = Wg[l], W1 = W1[l], W2 = W2[l], Y = y)"
                })
                for gone in ["W = W3[l], Y = c)", "run silu_mul(", "W = W2[l], Y = y)"] { try t.remove(line: gone) }
                what[3] = "\(E) SwiGLU experts of \(dff), \(k) per token"
            }
            if c.tie_word_embeddings == true {
                try t.importing("stack/lm_head_tied.kern")
                try t.remove(line: "    weight output_w[")
                try t.replace(line: "W = output_w, Y = logits[0])", with: { _ in
                    "    run lm_head_tied(T = B, d = d, vocab = vocabg, dt = dt, X = last, E = tok_embeddings, Y = logits[0])"
                })
                what.append("tied embeddings")
            }
            if let w = c.sliding_window, w > 0, w < ctx {
                try t.replace(line: "    param tp = ", with: { "    param window = \(w)      # each token attends to the last `window` positions (sliding window)\n\($0)" })
                try t.replace(line: "run cached_attention(", with: { $0.replacingOccurrences(of: "hd = hd, dt = dt,", with: "hd = hd, window = window, dt = dt,") })
                what.append("sliding window \(w)")
            }
        case .gpt2:
            let d = try need(c.n_embd ?? c.hidden_size, "n_embd"), L = try need(c.n_layer ?? c.num_hidden_layers, "n_layer")
            let H = try need(c.n_head ?? c.num_attention_heads, "n_head"), vocab = try need(c.vocab_size, "vocab_size")
            let ctx = try need(c.n_positions ?? c.max_position_embeddings, "n_positions"), dff = try need(c.n_inner ?? 4 * d, "n_inner")
            t = try Template(library: library, path: "models/gpt2_small.kern", kernel: "gpt2_small")
            try t.set(["L": "\(L)", "d": "\(d)", "H": "\(H)", "dff": "\(dff)", "vocab": "\(vocab)", "positions": "\(ctx)", "dt": dtype])
            what = ["\(L) layers", "d \(d)", "\(H) heads", "GELU MLP of \(dff)", "vocabulary \(vocab)", "\(ctx) positions", "tied embeddings"]
        }
        let header = """
        ## \(name): \(arch.isEmpty ? type : arch) from \((source as NSString).lastPathComponent) (`gpusim import hf`):
        ## \(what.joined(separator: ", ")), \(dtype).
        ## Written from the shipped \(t.path) with these sizes; edit it like any kernel.
        """
        return t.text(name: name, header: header)
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case .dataCorrupted: return "not valid JSON"
        default: return "it is not a JSON object of config fields"
        }
    }

    /// A shipped kernel's text, changed line by line; every change must find its line (so a
    /// template edited out from under the importer fails loudly, in a test).
    struct Template {
        let path: String
        let kernel: String
        var lines: [String]

        init(library: String, path: String, kernel: String) throws(ImportError) {
            self.path = path
            self.kernel = kernel
            guard let text = try? String(contentsOfFile: library + "/" + path, encoding: .utf8) else {
                throw ImportError("cannot read the template \(path) in the kernel library (\(library))")
            }
            // Library-relative imports, so the written file works from any folder.
            lines = text.components(separatedBy: "\n").map { $0.replacingOccurrences(of: "import \"../", with: "import \"") }
        }

        mutating func set(_ values: [String: String]) throws(ImportError) {
            for (name, value) in values {
                let prefix = "    param \(name) = "
                guard let i = lines.firstIndex(where: { $0.hasPrefix(prefix) }) else { throw ImportError("the template \(path) has no 'param \(name)'") }
                let comment = lines[i].range(of: "#").map { "   " + lines[i][$0.lowerBound...] } ?? ""
                lines[i] = prefix + value + comment
            }
        }

        mutating func importing(_ file: String) throws(ImportError) {
            let line = "import \"\(file)\""
            guard !lines.contains(line) else { return }
            guard let last = lines.lastIndex(where: { $0.hasPrefix("import ") }) else { throw ImportError("the template \(path) has no imports") }
            lines.insert(line, at: last + 1)
        }

        mutating func replace(line containing: String, with change: (String) -> String) throws(ImportError) {
            guard let i = lines.firstIndex(where: { $0.contains(containing) }) else { throw ImportError("the template \(path) has no line with '\(containing)'") }
            lines[i] = change(lines[i])
        }

        mutating func remove(line containing: String) throws(ImportError) {
            guard let i = lines.firstIndex(where: { $0.contains(containing) }) else { throw ImportError("the template \(path) has no line with '\(containing)'") }
            lines.remove(at: i)
        }

        /// The text with the kernel renamed and its leading `##` comment replaced by `header`.
        func text(name: String, header: String) -> String {
            var out: [String] = [], inHeader = false
            for line in lines {
                if line.hasPrefix("kernel \(kernel) {") {
                    out.append(header)
                    out.append("kernel \(name) {")
                    inHeader = false
                    continue
                }
                if line.hasPrefix("## ") || line == "##" { inHeader = true; continue }
                if inHeader && line.isEmpty { continue }
                out.append(line)
            }
            return out.joined(separator: "\n")
        }
    }
}
