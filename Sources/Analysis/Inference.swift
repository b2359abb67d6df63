import Dispatch
import Foundation
import KernLang
import Simulator

/// Serving a model: a prefill, then decode steps over a growing KV cache, each a run of the
/// model's generation-step kernel (one with parameters B, T, P and ctx, as
/// Kernels/models/llama2_7b.kern: B sequences each adding T tokens behind the P they have
/// cached, in a cache of ctx tokens). The prefill runs T = prompt, P = 0; the generated tokens
/// after the first (which the prefill's logits give) each run a step of T = 1 at P = prompt,
/// prompt + 1, ... The cache is sized to the request, ctx = prompt + generate.
public struct Inference: Sendable {
    /// The parameters a generation-step kernel must declare.
    public static let stepParams = ["B", "T", "P", "ctx"]

    public struct Request: Sendable, Codable, Equatable {
        public var batch: Int64
        public var prompt: Int64
        public var generate: Int64
        public init(batch: Int64, prompt: Int64, generate: Int64) { self.batch = batch; self.prompt = prompt; self.generate = generate }
    }

    /// What one step (or a sum of steps) costs.
    public struct Figures: Sendable, Codable, Equatable {
        /// The kernels' own time (`time.kernel`), collectives between GPUs, and the launch gaps a
        /// step launched op by op adds (`time.launch_gaps`; largely hidden by CUDA graphs).
        public var kernel = 0.0
        public var collective = 0.0
        public var launch_gaps = 0.0
        public var compute = 0.0
        public var memory = 0.0
        public var flops: Int64 = 0
        public var read_bytes: Int64 = 0
        public var write_bytes: Int64 = 0
        /// GPU time with launches back to back (as serving engines replay decode steps as CUDA
        /// graphs): kernels plus collectives.
        public var time: Double { kernel + collective }
        public var bound: Bound { Bound(compute: compute, memory: memory) }

        public init() {}
        init(_ s: RunSummary) {
            kernel = s.time.kernel ?? s.time.total
            collective = s.time.collective ?? 0
            launch_gaps = s.time.launch_gaps ?? 0
            compute = s.time.compute
            memory = s.time.memory
            flops = s.flops.total
            read_bytes = s.hbm.read_bytes
            write_bytes = s.hbm.write_bytes
        }

        var times: [Double] { [kernel, collective, launch_gaps, compute, memory] }
        var counts: [Int64] { [flops, read_bytes, write_bytes] }

        static func + (a: Figures, b: Figures) -> Figures {
            var o = Figures()
            o.kernel = a.kernel + b.kernel; o.collective = a.collective + b.collective; o.launch_gaps = a.launch_gaps + b.launch_gaps
            o.compute = a.compute + b.compute; o.memory = a.memory + b.memory
            o.flops = a.flops + b.flops; o.read_bytes = a.read_bytes + b.read_bytes; o.write_bytes = a.write_bytes + b.write_bytes
            return o
        }

        /// The sum over `n` steps whose figures grow by the same amount each step, from `first`
        /// to `last`: n (first + last) / 2 (exact in the integer counters).
        static func arithmeticSum(_ first: Figures, _ last: Figures, steps n: Int64) -> Figures {
            func sum(_ a: Int64, _ b: Int64) -> Int64 { n * (a + b) / 2 }
            func sum(_ a: Double, _ b: Double) -> Double { Double(n) * (a + b) / 2 }
            var o = Figures()
            o.kernel = sum(first.kernel, last.kernel); o.collective = sum(first.collective, last.collective)
            o.launch_gaps = sum(first.launch_gaps, last.launch_gaps); o.compute = sum(first.compute, last.compute); o.memory = sum(first.memory, last.memory)
            o.flops = sum(first.flops, last.flops); o.read_bytes = sum(first.read_bytes, last.read_bytes); o.write_bytes = sum(first.write_bytes, last.write_bytes)
            return o
        }
    }

    /// HBM one GPU needs: weights, the KV cache for the request, and the step's other tensors
    /// (inputs, activations, outputs) at the larger of prefill and decode.
    public struct Memory: Sendable, Codable, Equatable {
        public var weights: Int64
        public var kv_cache: Int64
        public var activations: Int64
        public var total: Int64 { weights + kv_cache + activations }
        public var capacity: Int64?
        public var fits: Bool { capacity.map { total <= $0 } ?? true }
    }

    /// A launched kernel of the last decode step: its share of the step's time and its bound.
    public struct KernelShare: Sendable, Codable, Equatable {
        public var name: String
        public var time: Double
        public var flops: Int64
        public var bound: Bound
    }

    public var model: String
    public var gpu: String
    public var request: Request
    public var params: [String: ParamValue]
    public var memory: Memory
    /// The largest batch whose weights, cache and activations fit the GPU's HBM (nil: the
    /// preset has no capacity).
    public var max_batch: Int64?
    public var prefill: Figures?
    public var decode = Figures()
    /// Decode steps, and how many of them were interpreted (the rest were summed where the
    /// steps' figures were seen to grow evenly; `everyStep` runs them all).
    public var decode_steps: Int64 = 0
    public var decode_steps_run: Int64 = 0
    public var last_step: Figures?
    public var decode_kernels: [KernelShare] = []

    /// Time to first token: the prefill, whose logits give it.
    public var ttft: Double? { prefill?.time }
    /// Time per output token after the first: a decode step, on average.
    public var tpot: Double? { decode_steps > 0 ? decode.time / Double(decode_steps) : nil }
    /// Tokens the batch generates per second while decoding.
    public var decode_tokens_per_second: Double? { tpot.map { Double(request.batch) / $0 } }
    /// Generated tokens per second over the whole request (prefill included).
    public var tokens_per_second: Double? {
        guard let ttft else { return nil }
        return Double(request.batch * request.generate) / (ttft + decode.time)
    }
    /// The HBM bytes a decode step moves per second of its GPU time, on average: what tools
    /// such as gpt-fast report as achieved bandwidth.
    public var decode_bandwidth: Double? {
        guard decode_steps > 0, decode.time > 0 else { return nil }
        return Double(decode.read_bytes + decode.write_bytes) / decode.time
    }
    /// Whether the request's memory fits, and so whether it ran.
    public var fits: Bool { memory.fits }

    /// Plans and, when it fits, runs `request` on `program`'s step kernel. `overrides` are the
    /// user's other parameters (tp, KVH, ...); `everyStep` interprets every decode step.
    public init(program: CheckedProgram, gpu: GPUModel, cache: CacheMode = .flush, request: Request,
                overrides: [String: ParamValue] = [:], everyStep: Bool = false) throws(SimulationError) {
        let declared = Set(program.entryKernel.params.map(\.name))
        let missing = Self.stepParams.filter { !declared.contains($0) }
        guard missing.isEmpty else {
            throw .usage("\(program.entryKernel.name) is not a generation-step kernel: it has no parameter\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (one declares B, T, P and ctx, as Kernels/models/llama2_7b.kern does)")
        }
        for name in Self.stepParams where overrides[name] != nil && name != "ctx" {
            throw .usage("--\(name) is set by infer (--batch, --prompt, the decode position); leave it out")
        }
        guard gpu.units == .seconds else {
            throw .usage("infer times a model in seconds on a real GPU preset; \(gpu.name) counts cycles in the seed's model (--gpu a100-80gb, h100-sxm, ...)")
        }
        guard request.batch >= 1 else { throw .usage("--batch must be at least 1, got \(request.batch)") }
        guard request.prompt >= 1 else { throw .usage("--prompt must be at least 1 token, got \(request.prompt)") }
        guard request.generate >= 1 else { throw .usage("--generate must be at least 1 token, got \(request.generate)") }
        model = program.entryKernel.name
        self.gpu = gpu.name
        self.request = request
        // The cache holds the request; the model's own ctx (or the user's) is the longest it takes.
        var unbounded = gpu
        unbounded.hbmBytes = nil
        let limits = try Interpreter(program: program, options: RunOptions(gpu: unbounded, overrides: overrides)).resolveParams()
        let needed = request.prompt + request.generate
        if case .int(let ctx)? = limits["ctx"], needed > ctx {
            throw .usage("--prompt \(request.prompt) + --generate \(request.generate) = \(needed) tokens is more than the model's context of \(ctx) (its ctx; --ctx N to allow more)")
        }
        var base = overrides
        base["ctx"] = .int(needed)
        base["B"] = .int(request.batch)
        func step(_ T: Int64, _ P: Int64, batch: Int64? = nil) -> [String: ParamValue] {
            var o = base
            o["T"] = .int(T); o["P"] = .int(P)
            if let batch { o["B"] = .int(batch) }
            return o
        }
        params = step(request.prompt, 0)
        memory = try Self.memory(program, unbounded, prefill: step(request.prompt, 0), decode: step(1, request.prompt))
        memory.capacity = gpu.hbmBytes
        if let cap = gpu.hbmBytes {
            max_batch = try Self.largestBatch(capacity: cap) { b throws(SimulationError) in
                try Self.memory(program, unbounded, prefill: step(request.prompt, 0, batch: b), decode: step(1, request.prompt, batch: b)).total
            }
        }
        guard memory.fits else { return }

        let options = { (o: [String: ParamValue]) in RunOptions(gpu: gpu, overrides: o, cache: cache) }
        prefill = Figures(try Interpreter(program: program, options: options(step(request.prompt, 0))).run())
        decode_steps = request.generate - 1
        guard decode_steps > 0 else { return }
        // Step s decodes at P = prompt + s. Runs are memoised by step.
        var runs: [Int64: (Figures, RunSummary)] = [:]
        func at(_ s: Int64) throws(SimulationError) -> Figures {
            if let r = runs[s] { return r.0 }
            let summary = try Interpreter(program: program, options: options(step(1, request.prompt + s))).run()
            runs[s] = (Figures(summary), summary)
            return runs[s]!.0
        }
        if everyStep {
            for s in 0..<decode_steps { decode = decode + (try at(s)) }
        } else {
            decode = try Self.sumSteps(0, decode_steps - 1, at)
        }
        decode_steps_run = Int64(runs.count)
        let last = runs[decode_steps - 1]?.1 ?? runs[runs.keys.max()!]!.1
        last_step = Figures(last)
        decode_kernels = last.kernels.map { KernelShare(name: $0.key, time: $0.value.time_total, flops: $0.value.flops, bound: $0.value.bound) }
            .sorted { ($0.time, $1.name) > ($1.time, $0.name) }
    }

    /// The figures of steps a ... b summed. Where the steps' figures grow evenly (the step after
    /// a and the one before b change by the same amount as the whole stretch does per step,
    /// and the middle step lies on that line) the stretch is summed from its ends; otherwise it
    /// is split in two. A tiled loop whose trip count steps up inside a stretch (a new key tile
    /// every Bc positions) breaks the evenness at that step, which the end slopes see.
    static func sumSteps(_ a: Int64, _ b: Int64, _ at: (Int64) throws(SimulationError) -> Figures) throws(SimulationError) -> Figures {
        let n = b - a + 1
        if n <= 4 {
            var total = Figures()
            for s in a...b { total = total + (try at(s)) }
            return total
        }
        let fa = try at(a), fb = try at(b), fa1 = try at(a + 1), fb1 = try at(b - 1)
        let mid = a + (b - a) / 2, fm = try at(mid)
        if evenly(fa, fa1, fb1, fb, fm, span: b - a, midOffset: mid - a) {
            return Figures.arithmeticSum(fa, fb, steps: n)
        }
        return try sumSteps(a, mid, at) + sumSteps(mid + 1, b, at)
    }

    /// Whether figures at a, a + 1, b - 1, b and a + midOffset lie on one line (integers
    /// exactly; times to within rounding of their femtosecond counters).
    static func evenly(_ fa: Figures, _ fa1: Figures, _ fb1: Figures, _ fb: Figures, _ fm: Figures, span: Int64, midOffset: Int64) -> Bool {
        for i in fa.counts.indices {
            let a = fa.counts[i], b = fb.counts[i]
            guard (b - a) % span == 0 else { return false }
            let slope = (b - a) / span
            if fa1.counts[i] - a != slope || b - fb1.counts[i] != slope || fm.counts[i] != a + slope * midOffset { return false }
        }
        for i in fa.times.indices {
            let a = fa.times[i], b = fb.times[i], slope = (b - a) / Double(span)
            let tolerance = 1e-9 * Swift.max(abs(a), abs(b)) + 1e-14
            if abs(fa1.times[i] - a - slope) > tolerance || abs(b - fb1.times[i] - slope) > tolerance
                || abs(fm.times[i] - a - slope * Double(midOffset)) > tolerance { return false }
        }
        return true
    }

    /// Weights, cache and the larger phase's other tensors, from the tensors' resolved shapes.
    static func memory(_ program: CheckedProgram, _ gpu: GPUModel, prefill: [String: ParamValue], decode: [String: ParamValue]) throws(SimulationError) -> Memory {
        /// Bytes of one phase's tensors by role: weights, caches, the rest.
        func sizes(_ o: [String: ParamValue]) throws(SimulationError) -> (Int64, Int64, Int64) {
            var w: Int64 = 0, kv: Int64 = 0, other: Int64 = 0
            for t in try Interpreter(program: program, options: RunOptions(gpu: gpu, overrides: o)).resolveTensors() {
                switch t.role {
                case .weight: w += t.bytes
                case .cache: kv += t.bytes
                default: other += t.bytes
                }
            }
            return (w, kv, other)
        }
        // Weights and cache are the same in both phases (the cache is sized to the request).
        let (w, kv, prefillOther) = try sizes(prefill)
        let decodeOther = try sizes(decode).2
        return Memory(weights: w, kv_cache: kv, activations: Swift.max(prefillOther, decodeOther))
    }

    /// The largest batch whose memory fits `capacity` (0 if one sequence does not): doubling,
    /// then bisection (memory grows with the batch).
    static func largestBatch(capacity: Int64, _ bytes: (Int64) throws(SimulationError) -> Int64) throws(SimulationError) -> Int64 {
        guard try bytes(1) <= capacity else { return 0 }
        var lo: Int64 = 1, hi: Int64 = 2
        while try bytes(hi) <= capacity {
            lo = hi
            hi *= 2
            if hi > 1 << 24 { return lo }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if try bytes(mid) <= capacity { lo = mid } else { hi = mid }
        }
        return lo
    }
}

extension Inference: Encodable {
    enum Keys: String, CodingKey {
        case model, gpu, request, params, memory, max_batch, fits, prefill, decode, decode_steps, decode_steps_run, last_step, decode_kernels
        case ttft, tpot, decode_tokens_per_second, tokens_per_second, prefill_bound, decode_bound, decode_bandwidth
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model, forKey: .model); try c.encode(gpu, forKey: .gpu); try c.encode(request, forKey: .request)
        try c.encode(params, forKey: .params); try c.encode(memory, forKey: .memory); try c.encodeIfPresent(max_batch, forKey: .max_batch)
        try c.encode(fits, forKey: .fits); try c.encodeIfPresent(prefill, forKey: .prefill); try c.encodeIfPresent(prefill?.bound, forKey: .prefill_bound)
        if decode_steps > 0 {
            try c.encode(decode, forKey: .decode); try c.encode(decode.bound, forKey: .decode_bound)
            try c.encodeIfPresent(last_step, forKey: .last_step); try c.encode(decode_kernels, forKey: .decode_kernels)
        }
        try c.encode(decode_steps, forKey: .decode_steps); try c.encode(decode_steps_run, forKey: .decode_steps_run)
        try c.encodeIfPresent(ttft, forKey: .ttft); try c.encodeIfPresent(tpot, forKey: .tpot)
        try c.encodeIfPresent(decode_tokens_per_second, forKey: .decode_tokens_per_second); try c.encodeIfPresent(tokens_per_second, forKey: .tokens_per_second)
        try c.encodeIfPresent(decode_bandwidth, forKey: .decode_bandwidth)
    }
}
