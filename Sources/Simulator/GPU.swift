import Foundation
import KernLang

/// A GPU as gpusim models it. Seed presets count in elements and cycles with the seed's
/// serial cost model; real presets count bytes and seconds with compute/memory overlap.
public struct GPUModel: Sendable, Codable, Equatable {
    public enum Units: String, Sendable, Codable { case cycles, seconds }

    public var name: String
    public var description: String
    public var units: Units
    /// When set, every element counts this many bytes whatever its dtype (the seed's model).
    public var elementBytes: Int?
    /// Shared memory one thread block may use (the seed: its single SRAM).
    public var sramBytes: Int64
    public var sms: Int
    public var l2Bytes: Int64
    /// nil: unlimited.
    public var hbmBytes: Int64?
    /// Peak HBM bandwidth in bytes per time unit.
    public var hbmBandwidth: Double
    /// Peak tensor-core (f16/bf16/f8 matmul) and CUDA-core (everything else) FLOP rates per time unit.
    public var matmulFlops: Double
    public var vectorFlops: Double
    /// Peak tensor-core rate of the warp-level `mma.sync` instruction on a GPU whose full
    /// `matmulFlops` needs warpgroup MMA (Hopper's `wgmma`), per time unit (nil: one path).
    public var warpMatmulFlops: Double? = nil
    /// Achievable fractions of the peaks (1.0 for the seed presets).
    public var hbmEfficiency: Double
    public var computeEfficiency: Double
    /// Achievable fraction of the HBM peak in a thread block that reduces the rows it loaded
    /// before it can store, with no loop to load more behind the reduction (a norm's or a
    /// softmax's row kernel; nil: `hbmEfficiency`).
    public var rowReductionEfficiency: Double? = nil
    /// Compute and memory overlap (time = max) or add up serially (the seed).
    public var overlap: Bool
    /// FLOPs charged per element by each tile operation.
    public var flopWeights: [String: Int]
    /// Time each launched GPU kernel adds before its work starts (nil: none, the seed's model).
    public var launchOverhead: Double? = nil
    /// Whether `parallel` grids run in waves over the SMs, the last wave leaving SMs idle
    /// (nil or false: every block runs on the whole GPU, the seed's model).
    public var waveQuantisation: Bool? = nil
    /// L2 partitions: data the SMs on both sides of the chip read is held in both halves, so
    /// the capacity shared data can use is the L2 over the partitions (nil: 1).
    public var l2Partitions: Int? = nil
    /// Bytes per time unit the L2 serves the SMs (nil: L2 hits cost no time).
    public var l2Bandwidth: Double? = nil
    /// Special-function-unit operations per time unit (nil: special ops are FLOPs at the
    /// CUDA-core rate, with their `flopWeights`).
    public var sfuRate: Double? = nil
    /// Time every launch takes on top of its work: filling the SMs and draining the last
    /// stores (nil: none).
    public var launchLatency: Double? = nil
    /// SM issue time of one warp's step of a thread block (its start, or an iteration of a
    /// sequential loop in it: the loop's bookkeeping, barriers and waits that its tensor-core
    /// and memory work do not hide), per time unit (nil: steps cost nothing).
    public var warpStepTime: Double? = nil
    /// GPU-to-GPU bandwidth per GPU, both directions together, in bytes per time unit, as
    /// NVIDIA quotes NVLink (nil: the preset has no interconnect; collectives across GPUs fail).
    public var interconnectBandwidth: Double? = nil
    /// Latency of one step of a ring collective (a hop between neighbours).
    public var interconnectLatency: Double? = nil
    /// Fraction of the per-direction link rate a ring all-reduce achieves (NCCL's bus bandwidth
    /// on NVLink is about 0.75-0.85 of it).
    public static let interconnectEfficiency = 0.8

    /// Warps of a thread block whose kernel declares none (128 threads, the common choice of
    /// FlashAttention-2's forward kernel, Triton's default `num_warps` and PyTorch's elementwise kernels).
    public static let defaultWarps: Int64 = 4

    /// Issue cycles of one warp's block step on a real preset: fitted to the one measured kernel
    /// whose time its steps set (Triton FlashAttention, 64 x 16 tiles, 4 warps: 86.5 us for
    /// 4 blocks x 129 steps on an H100 SM, less the launch latency, is 75 cycles per warp-step
    /// at 1.83 GHz), and checked on the others of its sweep (docs/model.md).
    public static let warpStepCycles = 75.0

    /// Row kernels' fraction of the HBM peak on a real preset: measured on the H100 set, where
    /// RMSNorm's (T 8192, D 4096: 122 MB in 51.4 us after the launch latency) and PyTorch's
    /// warp-per-row softmax (N 1024: 4.28 GB in 1.78 ms) stream at 0.709 and 0.716 of the
    /// 3.35 TB/s peak while elementwise kernels reach 0.90; assumed alike on the other presets.
    public static let measuredRowReductionEfficiency = 0.71

    /// The M of one warpgroup MMA (`wgmma.m64nNk16`): a product with fewer rows cannot use it.
    public static let warpgroupMMARows: Int64 = 64

    /// Whether a tensor-core product with `rows` rows, in a kernel built for compute capability
    /// `builtFor` (x 10; nil: this GPU's), runs on the warp-level `mma.sync` path: on a GPU with
    /// warpgroup MMA, when the product is shorter than one warpgroup's M or the kernel is built
    /// for an older GPU (sm_80 code has no `wgmma`).
    func usesWarpLevelMMA(rows: Int64, builtFor: Int64?) -> Bool {
        guard warpMatmulFlops != nil else { return false }
        return rows < Self.warpgroupMMARows || (builtFor ?? 90) < 90
    }

    /// Whether `acc += A @ B`, with `A` of type `operand`, is one tensor-core MMA (D = A B + C)
    /// whose 2 m n k FLOPs already count the addition. GPUs without tensor cores of their own
    /// (the seed's presets) charge the addition.
    public func accumulatesInMMA(_ op: UpdateOp, _ e: RExpr, operand: DType) -> Bool {
        guard op == .add, case .binary(.matmul, _, _) = e.kind else { return false }
        return operand.isTensorCoreInput && matmulFlops != vectorFlops
    }

    /// Whether the preset models GPU kernel launches: each pays the launch overhead, and each
    /// launch's compute and memory overlap on their own (the seed's presets do neither).
    public var modelsLaunches: Bool { launchOverhead != nil }
    /// Whether grids run in rounds over the SMs, the last leaving some idle.
    public var modelsWaves: Bool { waveQuantisation == true }
    /// Whether what thread blocks store after their loops holds their SMs' math (waves and an
    /// L2 bandwidth to time it by).
    public var modelsEpilogues: Bool { modelsWaves && l2Bandwidth != nil }
    /// Whether the blocks of a wave share the tiles they load through L2 (waves and an L2).
    public var modelsL2: Bool { modelsWaves && l2Bytes > 0 }
    /// The L2 bytes data shared by all SMs can occupy.
    public var l2EffectiveBytes: Double { Double(l2Bytes) / Double(Swift.max(1, l2Partitions ?? 1)) }
    /// Whether sizes are counted in elements of one fixed size (the seed's model); summaries
    /// and reports then also give elements.
    public var countsElements: Bool { elementBytes != nil }

    public static let seedWeights: [String: Int] = [
        "add": 1, "sub": 1, "mul": 1, "neg": 1, "max": 1, "min": 1, "abs": 1,
        "div": 8, "exp": 8, "log": 8, "sqrt": 8, "rsqrt": 8, "tanh": 8, "gelu": 8, "silu": 8,
        "rowmax": 1, "rowsum": 1, "rowmean": 1, "softmax": 19,
        "mask": 1, "alibi": 2, "cast": 1, "copy": 1, "transpose": 0, "fill": 0, "topk": 1, "gather": 0,
        "argtopk": 1, "top_p": 3, "sinusoidal": 8, "dispatch": 1,
    ]

    /// The time of work whose compute and memory terms are `compute` and `memory`: the larger
    /// when they overlap (real presets), their sum in the seed's serial model. The one place
    /// this rule is written.
    @inline(__always)
    public func compose(compute: Double, memory: Double) -> Double { overlap ? Swift.max(compute, memory) : compute + memory }

    public func elementBytesFor(_ dtype: DType) -> Double {
        elementBytes.map(Double.init) ?? Double(dtype.bits) / 8
    }

    public func fact(_ f: GPUFact) -> Double {
        switch f {
        case .sram_bytes: Double(sramBytes)
        case .sms: Double(sms)
        case .l2_bytes: Double(l2Bytes)
        case .hbm_bytes: Double(hbmBytes ?? Int64.max)
        case .hbm_bandwidth: hbmBandwidth
        case .matmul_flops: matmulFlops
        }
    }

    static func seed(_ name: String, sramElements: Int64, flopsPerCycle: Double, hbm: Int64) -> GPUModel {
        GPUModel(name: name, description: "the seed simulator's \(name.dropFirst(5).uppercased()) (elements and cycles, serial cost model)",
                 units: .cycles, elementBytes: 2, sramBytes: sramElements * 2, sms: 1, l2Bytes: 0, hbmBytes: hbm,
                 hbmBandwidth: 2.0, matmulFlops: flopsPerCycle, vectorFlops: flopsPerCycle,
                 hbmEfficiency: 1, computeEfficiency: 1, overlap: false, flopWeights: seedWeights)
    }

    static func real(_ name: String, _ desc: String, sms: Int, sramKB: Int64, l2MB: Int64, hbmGB: Int64,
                     bandwidthGBs: Double, tensorTF: Double, fp32TF: Double, clockGHz: Double, l2TBs: Double, nvlinkGBs: Double, warpTensorTF: Double? = nil) -> GPUModel {
        GPUModel(name: name, description: desc, units: .seconds, elementBytes: nil, sramBytes: sramKB * 1024, sms: sms,
                 l2Bytes: l2MB << 20, hbmBytes: hbmGB << 30, hbmBandwidth: bandwidthGBs * 1e9,
                 matmulFlops: tensorTF * 1e12, vectorFlops: fp32TF * 1e12, warpMatmulFlops: warpTensorTF.map { $0 * 1e12 },
                 hbmEfficiency: 0.88, computeEfficiency: 0.80, rowReductionEfficiency: measuredRowReductionEfficiency, overlap: true, flopWeights: seedWeights,
                 launchOverhead: 3e-6, waveQuantisation: true, l2Partitions: 2, l2Bandwidth: l2TBs * 1e12,
                 sfuRate: Double(sms) * 16 * clockGHz * 1e9, launchLatency: 2.6e-6, warpStepTime: warpStepCycles / (clockGHz * 1e9),
                 interconnectBandwidth: nvlinkGBs * 1e9, interconnectLatency: 1e-6)
    }

    /// The built-in presets. Real ones: vendor datasheets (dense rates); achievable fractions
    /// 0.88 of HBM bandwidth (a device-to-device copy reaches 85-90 %) and 0.80 of compute
    /// (a large fp16 GEMM reaches 75-85 %). NVLink per GPU (both directions): A100 600 GB/s,
    /// H100 and H200 900 GB/s, 1 us per ring step. Launch overhead 3 us: the gap between back-to-back
    /// small kernels in one stream as profilers show it on A100/H100 (2-4 us; more from Python).
    /// Grids run in rounds of one block per SM (the blocks resident on an SM share it).
    /// Hopper's tensor cores reach their peak only through warpgroup MMA (`wgmma`); the
    /// warp-level `mma.sync` reaches about 2/3 of it (FlashAttention-3 paper, section 2.2).
    public static let presets: [GPUModel] = [
        seed("seed-v100", sramElements: 65_536, flopsPerCycle: 70, hbm: 32 << 30),
        seed("seed-a100", sramElements: 131_072, flopsPerCycle: 150, hbm: 80 << 30),
        seed("seed-h100", sramElements: 196_608, flopsPerCycle: 300, hbm: 80 << 30),
        real("a100-40gb", "NVIDIA A100 SXM 40 GB (HBM2)", sms: 108, sramKB: 164, l2MB: 40, hbmGB: 40,
             bandwidthGBs: 1555, tensorTF: 312, fp32TF: 19.5, clockGHz: 1.41, l2TBs: 7.2, nvlinkGBs: 600),
        real("a100-80gb", "NVIDIA A100 SXM 80 GB (HBM2e)", sms: 108, sramKB: 164, l2MB: 40, hbmGB: 80,
             bandwidthGBs: 2039, tensorTF: 312, fp32TF: 19.5, clockGHz: 1.41, l2TBs: 7.2, nvlinkGBs: 600),
        real("h100-sxm", "NVIDIA H100 SXM 80 GB (HBM3)", sms: 132, sramKB: 228, l2MB: 50, hbmGB: 80,
             bandwidthGBs: 3350, tensorTF: 989, fp32TF: 67, clockGHz: 1.83, l2TBs: 9.4, nvlinkGBs: 900, warpTensorTF: 989.0 * 2 / 3),
        real("h200", "NVIDIA H200 141 GB (HBM3e)", sms: 132, sramKB: 228, l2MB: 50, hbmGB: 141,
             bandwidthGBs: 4800, tensorTF: 989, fp32TF: 67, clockGHz: 1.83, l2TBs: 9.4, nvlinkGBs: 900, warpTensorTF: 989.0 * 2 / 3),
    ]

    public static let defaultPreset = "a100-80gb"

    public static func preset(named name: String) -> GPUModel? { presets.first { $0.name == name } }

    /// Reads a user-defined GPU from JSON (the same fields as `gpusim list --json` prints for a preset;
    /// `flopWeights` may be partial and falls back to the seed's weights).
    public static func load(json data: Data, path: String) throws(SimulationError) -> GPUModel {
        struct Partial: Decodable {
            var name: String?
            var description: String?
            var units: Units?
            var elementBytes: Int?
            var sramBytes: Int64
            var sms: Int?
            var l2Bytes: Int64?
            var hbmBytes: Int64?
            var hbmBandwidth: Double
            var matmulFlops: Double
            var vectorFlops: Double?
            var warpMatmulFlops: Double?
            var hbmEfficiency: Double?
            var computeEfficiency: Double?
            var rowReductionEfficiency: Double?
            var overlap: Bool?
            var flopWeights: [String: Int]?
            var launchOverhead: Double?
            var waveQuantisation: Bool?
            var l2Partitions: Int?
            var l2Bandwidth: Double?
            var sfuRate: Double?
            var launchLatency: Double?
            var warpStepTime: Double?
            var interconnectBandwidth: Double?
            var interconnectLatency: Double?
        }
        let p: Partial
        do { p = try JSONDecoder().decode(Partial.self, from: data) } catch let e as DecodingError {
            throw SimulationError.input("\(path): not a valid GPU description: \(Self.describe(e))")
        } catch {
            throw SimulationError.input("\(path): not valid JSON: \(error.localizedDescription)")
        }
        func positive(_ v: Double, _ field: String) throws(SimulationError) {
            if !(v > 0) || !v.isFinite { throw SimulationError.input("\(path): '\(field)' must be a positive number, got \(v)") }
        }
        try positive(Double(p.sramBytes), "sramBytes")
        try positive(p.hbmBandwidth, "hbmBandwidth")
        try positive(p.matmulFlops, "matmulFlops")
        if let v = p.vectorFlops { try positive(v, "vectorFlops") }
        if let v = p.warpMatmulFlops { try positive(v, "warpMatmulFlops") }
        if let v = p.sms { try positive(Double(v), "sms") }
        if let v = p.hbmBytes { try positive(Double(v), "hbmBytes") }
        if let v = p.l2Partitions { try positive(Double(v), "l2Partitions") }
        if let v = p.l2Bandwidth { try positive(v, "l2Bandwidth") }
        if let v = p.sfuRate { try positive(v, "sfuRate") }
        if let v = p.interconnectBandwidth { try positive(v, "interconnectBandwidth") }
        if let v = p.interconnectLatency, !(v >= 0 && v.isFinite) { throw SimulationError.input("\(path): 'interconnectLatency' must be a number >= 0, got \(v)") }
        if let v = p.launchLatency, !(v >= 0 && v.isFinite) { throw SimulationError.input("\(path): 'launchLatency' must be a number >= 0, got \(v)") }
        if let v = p.warpStepTime, !(v >= 0 && v.isFinite) { throw SimulationError.input("\(path): 'warpStepTime' must be a number >= 0, got \(v)") }
        if let v = p.launchOverhead, !(v >= 0 && v.isFinite) { throw SimulationError.input("\(path): 'launchOverhead' must be a number >= 0, got \(v)") }
        if let e = p.elementBytes, e <= 0 || e > 16 { throw SimulationError.input("\(path): 'elementBytes' must be 1 to 16, got \(e)") }
        for (k, v) in [("hbmEfficiency", p.hbmEfficiency), ("computeEfficiency", p.computeEfficiency), ("rowReductionEfficiency", p.rowReductionEfficiency)] {
            if let v, !(v > 0 && v <= 1) { throw SimulationError.input("\(path): '\(k)' must be in (0, 1], got \(v)") }
        }
        var weights = seedWeights
        for (k, v) in p.flopWeights ?? [:] {
            guard weights[k] != nil else {
                throw SimulationError.input("\(path): unknown operation '\(k)' in flopWeights; known: \(seedWeights.keys.sorted().joined(separator: ", "))")
            }
            guard v >= 0 else { throw SimulationError.input("\(path): flopWeights['\(k)'] must be >= 0, got \(v)") }
            weights[k] = v
        }
        let units = p.units ?? .seconds
        return GPUModel(name: p.name ?? path, description: p.description ?? "user-defined GPU from \(path)", units: units,
                        elementBytes: p.elementBytes, sramBytes: p.sramBytes, sms: p.sms ?? 1, l2Bytes: p.l2Bytes ?? 0,
                        hbmBytes: p.hbmBytes, hbmBandwidth: p.hbmBandwidth, matmulFlops: p.matmulFlops,
                        vectorFlops: p.vectorFlops ?? p.matmulFlops, warpMatmulFlops: p.warpMatmulFlops, hbmEfficiency: p.hbmEfficiency ?? 1,
                        computeEfficiency: p.computeEfficiency ?? 1, rowReductionEfficiency: p.rowReductionEfficiency, overlap: p.overlap ?? (units == .seconds), flopWeights: weights,
                        launchOverhead: p.launchOverhead, waveQuantisation: p.waveQuantisation,
                        l2Partitions: p.l2Partitions, l2Bandwidth: p.l2Bandwidth, sfuRate: p.sfuRate, launchLatency: p.launchLatency, warpStepTime: p.warpStepTime,
                        interconnectBandwidth: p.interconnectBandwidth, interconnectLatency: p.interconnectLatency)
    }

    public static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, _): return "missing field '\(k.stringValue)'"
        case .typeMismatch(let t, let c): return "field '\(path(c))' should be \(t)"
        case .valueNotFound(_, let c): return "field '\(path(c))' is null"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(e)"
        }
    }
}

/// Errors of a run: a diagnostic in the kernel, or bad input named by flag or file.
public enum SimulationError: Error, CustomStringConvertible, Sendable {
    case kernel(Diagnostic)
    case input(String)
    /// A command-line flag that does not fit the kernel (exit status 2).
    case usage(String)
    public var description: String {
        switch self {
        case .kernel(let d): d.render()
        case .input(let s), .usage(let s): "gpusim: error: \(s)"
        }
    }
}
