import Foundation
import Testing

/// `gpusim infer` as a user runs it: from any folder, with the library's model names.
@Suite struct InferCLITests {
    func tmp() throws -> URL { try freshFolder("infer") }

    @Test func servesAModelAndSweepsBatches() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try gpusim(["infer", "models/llama2_7b", "--gpu", "h100-sxm", "--prompt", "64", "--generate", "8"], cwd: dir)
        #expect(one.status == 0, "\(one.err)")
        for line in ["time to first token", "time per output token", "tokens/s for the batch", "the largest batch that fits", "memory-bound"] {
            #expect(one.out.contains(line), "\(line)")
        }
        let sweep = try gpusim(["infer", "models/llama2_7b", "--gpu", "h100-sxm", "--batch", "1,64,4096", "--prompt", "64", "--generate", "4", "-o", "s.svg"], cwd: dir)
        #expect(sweep.status == 0, "\(sweep.err)")
        #expect(sweep.out.contains("does not fit") && sweep.out.contains("wrote s.svg"))
        let svg = try String(contentsOf: dir.appendingPathComponent("s.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("class=\"throughput-point\"") && svg.contains("does not fit"))
        let json = try gpusim(["infer", "models/llama2_7b", "--batch", "2", "--prompt", "16", "--generate", "3", "--tp", "2", "--json"], cwd: dir)
        let r = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        #expect((r["decode_steps"] as? Int) == 2 && (r["tpot"] as? Double ?? 0) > 0 && (r["params"] as! [String: Any])["tp"] as? Int == 2)
    }

    @Test func badRequestsAreNamed() throws {
        let notAStep = try gpusim(["infer", "Kernels/flash_attention.kern"])
        #expect(notAStep.status != 0 && notAStep.err.contains("is not a generation-step kernel") && notAStep.err.contains("B, T, P"))
        let long = try gpusim(["infer", "models/llama2_7b", "--prompt", "4000", "--generate", "200"])
        #expect(long.status != 0 && long.err.contains("more than the model's context of 4096"))
        let batch = try gpusim(["infer", "models/llama2_7b", "--batch", "0"])
        #expect(batch.status != 0 && batch.err.contains("--batch"))
        let set = try gpusim(["infer", "models/llama2_7b", "--T", "4"])
        #expect(set.status != 0 && set.err.contains("--T is set by infer"))
        let unknown = try gpusim(["infer", "models/llama2_7b", "--heads", "4"])
        #expect(unknown.status != 0 && unknown.err.contains("has no parameter 'heads'"))
    }
}
