import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Serve a model: prefill a batch of prompts, then decode tokens over a growing KV cache.",
        discussion: prose("""
        The model is a generation-step kernel (parameters B, T, P, ctx, as the shipped models
        and `gpusim import hf` write them). infer runs the prefill (T = prompt, P = 0), whose
        logits give the first token, then one decode step per further token (T = 1, P = prompt,
        prompt + 1, ...) with the cache sized to the request; it prints time to first token, time
        per output token, tokens per second, what HBM holds (weights, KV cache, activations),
        the largest batch that fits, and what bounds each phase. Times are the GPU kernels back
        to back (as CUDA graphs replay a decode step); the launch gaps of running op by op are
        printed apart. Decode steps whose figures grow evenly are summed from their ends
        (`--every-step` interprets them all). Several batch sizes make a sweep, with a chart:
          gpusim infer models/llama2_7b --batch 1 --prompt 512 --generate 128
          gpusim infer models/llama2_7b --batch 1,8,32,128 -o serving.svg
          gpusim infer mistral.kern --batch 8 --tp 2     # split over 2 GPUs
        """))

    @Argument(help: "The model's .kern file (a generation-step kernel).")
    var model: String

    @Option(help: "Sequences decoded together; several (1,8,32) make a sweep.")
    var batch = "1"

    @Option(help: "Prompt tokens per sequence.")
    var prompt: Int64 = 512

    @Option(help: "Tokens generated per sequence (the first comes from the prefill).")
    var generate: Int64 = 128

    @Flag(help: "Interpret every decode step (by default steps that grow evenly are summed from their ends).")
    var everyStep = false

    @Flag(help: "Print the figures as JSON.")
    var json = false

    @Option(name: .shortAndLong, help: "Write the sweep's chart (tokens/s and latency against batch) as SVG.")
    var output: String?

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Model parameters: --tp N, --KVH 8, ...")
    var params: [String] = []

    func run() throws {
        let batches = try batch.split(separator: ",").map { b -> Int64 in
            guard let n = Int64(b.trimmingCharacters(in: .whitespaces)), n >= 1 else { throw ValidationError("--batch: expected positive integers separated by commas, got '\(batch)'") }
            return n
        }
        guard !batches.isEmpty else { throw ValidationError("--batch: expected at least one batch size") }
        if output != nil && !json && batches.count < 2 { throw ValidationError("-o writes a sweep's chart: give several batch sizes (--batch 1,8,32)") }
        let program = try loadProgram(model)
        let gpu = try gpuOptions.model()
        let overrides = try parseKernelParams(params)
        let known = Set(program.entryKernel.params.map(\.name))
        for name in overrides.keys where !known.contains(name) {
            throw ValidationError("--\(name): model '\(program.entryKernel.name)' has no parameter '\(name)' (parameters: \(program.entryKernel.params.map(\.name).joined(separator: ", ")))")
        }
        var runs: [Inference] = []
        let bar = ProgressBar(label: "serving \(program.entryKernel.name)", enabled: isatty(2) != 0 && !json)
        for (i, b) in batches.enumerated() {
            do {
                runs.append(try Inference(program: program, gpu: gpu, cache: gpuOptions.cache,
                                          request: .init(batch: b, prompt: prompt, generate: generate), overrides: overrides, everyStep: everyStep))
            } catch { bar.finish(); throw failRun(error) }
            bar.update(Double(i + 1) / Double(batches.count))
        }
        bar.finish()
        if let output {
            try writeFile(output, ServingChart.svg(runs, title: "\(program.entryKernel.name) on \(gpu.name): serving against batch size"))
        }
        if json {
            if runs.count == 1 { try printJSON(runs[0]) } else { try printJSON(runs) }
            return
        }
        if runs.count == 1 { print(Self.describe(runs[0], gpu: gpu)) } else { print(Self.table(runs, gpu: gpu)) }
        if let output { print("wrote \(output)") }
        if runs.allSatisfy({ !$0.fits }) { throw ExitCode(1) }
    }

    static func describe(_ r: Inference, gpu: GPUModel) -> String {
        let req = r.request
        var lines = ["\(r.model) on \(r.gpu): batch \(req.batch), prompt \(req.prompt), \(req.generate) tokens generated"
                     + (r.decode_steps > 0 ? " (\(r.decode_steps) decode step\(r.decode_steps == 1 ? "" : "s"), \(r.decode_steps_run) interpreted)" : "")]
        let m = r.memory
        lines.append("  Memory       weights \(fmtBytes(m.weights)) + KV cache \(fmtBytes(m.kv_cache)) + activations \(fmtBytes(m.activations)) = \(fmtBytes(m.total))"
                     + (m.capacity.map { " of \(fmtBytes($0))" } ?? ""))
        if let mb = r.max_batch {
            lines.append("               the largest batch that fits: \(mb == 0 ? "none (one sequence does not)" : group(mb)) at this prompt and length")
        }
        guard r.fits, let prefill = r.prefill else {
            lines.append("  does not fit: \(fmtBytes(m.total)) needed, \(fmtBytes(m.capacity ?? 0)) of HBM (a smaller --batch, --prompt or --generate, or --tp N)")
            return lines.joined(separator: "\n")
        }
        func t(_ v: Double) -> String { fmtSeconds(v) }
        lines.append("  Prefill      time to first token \(t(prefill.time)), \(prefill.bound.rawValue)-bound"
                     + (prefill.collective > 0 ? " (collectives \(t(prefill.collective)))" : "")
                     + (prefill.launch_gaps > 0 ? "; launched op by op, +\(t(prefill.launch_gaps)) of gaps" : ""))
        if let tpot = r.tpot, let last = r.last_step {
            lines.append("  Decode       time per output token \(t(tpot)) on average (last step \(t(last.time))), \(r.decode.bound.rawValue)-bound"
                         + (r.decode.collective > 0 ? " (collectives \(t(r.decode.collective / Double(r.decode_steps))) a step)" : "")
                         + (last.launch_gaps > 0 ? "; op by op, +\(t(last.launch_gaps)) a step" : ""))
            lines.append("               \(String(format: "%.1f", r.decode_tokens_per_second ?? 0)) tokens/s for the batch, \(String(format: "%.1f", 1 / tpot)) per sequence")
            if let bw = r.decode_bandwidth {
                lines.append("               \(fmtBytes((r.decode.read_bytes + r.decode.write_bytes) / r.decode_steps)) of HBM traffic a step, \(fmtBytes(Int64(bw)))/s achieved (\(String(format: "%.0f", bw / gpu.hbmBandwidth * 100)) % of the \(fmtBytes(Int64(gpu.hbmBandwidth)))/s peak)")
            }
            // Kernels' times include their launch gaps, so their shares are of the op-by-op step.
            let share = r.decode_kernels.prefix(4).map { "\($0.name) \(String(format: "%.0f", $0.time / (last.kernel + last.launch_gaps) * 100)) % (\($0.bound.rawValue))" }
            lines.append("               last step by kernel, launched op by op: " + share.joined(separator: ", "))
        }
        if let tps = r.tokens_per_second {
            lines.append("  Request      \(t((r.ttft ?? 0) + r.decode.time)) for \(group(req.batch * req.generate)) tokens: \(String(format: "%.1f", tps)) tokens/s with the prefill")
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ runs: [Inference], gpu: GPUModel) -> String {
        guard let first = runs.first else { return "" }
        var lines = ["\(first.model) on \(first.gpu): prompt \(first.request.prompt), \(first.request.generate) tokens generated per sequence",
                     "   batch        TTFT        TPOT    tokens/s      memory   prefill    decode   heaviest decode kernel"]
        for r in runs {
            let head = "\(r.request.batch)".leftPadded(8)
            guard r.fits, let prefill = r.prefill else {
                lines.append(head + "   does not fit: needs \(fmtBytes(r.memory.total)) of \(fmtBytes(r.memory.capacity ?? 0))")
                continue
            }
            let heavy = r.decode_kernels.max { $0.flops < $1.flops }
            lines.append(head + fmtSeconds(prefill.time).leftPadded(12) + (r.tpot.map(fmtSeconds) ?? "-").leftPadded(12)
                         + (r.decode_tokens_per_second.map { String(format: "%.1f", $0) } ?? "-").leftPadded(12)
                         + fmtBytes(r.memory.total).leftPadded(12) + prefill.bound.rawValue.leftPadded(10)
                         + (r.decode_steps > 0 ? r.decode.bound.rawValue : "-").leftPadded(10)
                         + "   " + (heavy.map { "\($0.name) \($0.bound.rawValue)-bound" } ?? "-"))
        }
        if let mb = first.max_batch { lines.append("largest batch that fits: \(group(mb))") }
        return lines.joined(separator: "\n")
    }
}
