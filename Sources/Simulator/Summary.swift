import KernLang

/// What a run measured. Everything a report, a diff or a test needs; encodes to the `--json` schema.
public struct RunSummary: Sendable, Codable, Equatable {
    public struct HBM: Sendable, Codable, Equatable {
        public var read_bytes: Int64 = 0
        public var write_bytes: Int64 = 0
        public var peak_bytes: Int64 = 0
        public var capacity_bytes: Int64?
        /// The seed's unit: bytes divided by the preset's element size (absent for real presets).
        public var read_elements: Int64?
        public var write_elements: Int64?
        public var total_bytes: Int64 { read_bytes + write_bytes }
    }
    public struct SRAM: Sendable, Codable, Equatable {
        public var peak_bytes: Int64 = 0
        public var capacity_bytes: Int64 = 0
        public var overflow = false
        public var overflow_count: Int64 = 0
        public var max_overflow_bytes: Int64 = 0
        /// `file:line:col` of the first allocation that went over capacity.
        public var first_overflow: String?
        public var peak_elements: Int64?
    }
    /// Reads as the SMs request them and the part L2 served (presets with an L2 model), and all
    /// L2 traffic, reads and writes, as Nsight Compute's `lts__t_bytes` counts it. A measured
    /// trace knows only the last.
    /// Writes as the SMs make them, and the part still dirty in L2 when their launch ended
    /// (`cache` flush: written back between launches, outside every launch's DRAM counters).
    public struct L2: Sendable, Codable, Equatable {
        public var read_bytes: Int64?
        public var hit_bytes: Int64?
        public var write_bytes: Int64?
        public var dirty_bytes: Int64?
        public var bytes: Int64?
        public var cache: CacheMode?
        public init(read_bytes: Int64? = nil, hit_bytes: Int64? = nil, write_bytes: Int64? = nil, dirty_bytes: Int64? = nil,
                    bytes: Int64? = nil, cache: CacheMode? = nil) {
            self.read_bytes = read_bytes; self.hit_bytes = hit_bytes; self.write_bytes = write_bytes; self.dirty_bytes = dirty_bytes
            self.bytes = bytes; self.cache = cache
        }
    }
    /// A trace imported from a profiler: the tool, and the parts of this summary it did not
    /// measure (they are left out of the JSON and shown as unknown, never as 0).
    public struct Measured: Sendable, Codable, Equatable {
        public var tool: String
        /// Names of the summary's sections the tool did not measure: "flops", "sram", "hbm", "l2",
        /// "hbm.peak_bytes".
        public var unknown: [String]
        public init(tool: String, unknown: [String]) { self.tool = tool; self.unknown = unknown }
    }
    public struct FLOPs: Sendable, Codable, Equatable {
        public var total: Int64 = 0
        public var matmul: Int64 = 0
        public var tensor_core: Int64? = 0
        /// The part of `tensor_core` on the warp-level `mma.sync` path, on presets that have a
        /// faster warpgroup path (nil elsewhere).
        public var mma_sync: Int64? = nil
        public var elementwise: Int64 = 0
        public var special: Int64 = 0
    }
    public struct Time: Sendable, Codable, Equatable {
        public var compute: Double = 0
        public var memory: Double = 0
        public var total: Double = 0
        public var unit = GPUModel.Units.cycles
        /// Part of `total`: the launch overhead of every GPU kernel (real presets).
        public var launch_gaps: Double?
        /// Part of `total`: the kernels' own time, each launch's compute and memory overlapped
        /// on their own and summed (real presets): what a profiler's kernel durations add up to.
        public var kernel: Double?
        /// Part of `compute`: SMs idle in the last, partial wave of each grid (real presets).
        public var wave_idle: Double?
        /// The least compute time the thread blocks' steps allow (real presets; see
        /// `counts.warp_steps`): each launch's compute is at least its share.
        public var block_steps: Double?
        /// Part of `compute` (presets with an L2 bandwidth): blocks' epilogues, the bytes they
        /// store after their loops (`counts.epilogue_bytes`) at the L2 bandwidth.
        public var block_epilogues: Double?
        /// Part of `memory`: what row kernels' DRAM bytes (`counts.row_reduction_bytes`) take at
        /// the preset's row-reduction efficiency beyond streaming them.
        public var row_reductions: Double?
        /// Part of `compute` (presets with an L2 bandwidth): accumulations in global memory,
        /// the bytes blocks load, update and store back inside their loops
        /// (`counts.accumulation_bytes`) at the L2 bandwidth.
        public var global_accumulations: Double?
        /// Part of `total`: collectives between GPUs (`allreduce`, `allgather` across more than one).
        public var collective: Double?
    }
    /// Collectives (`allreduce`, `allgather`) across more than one GPU: how many ran, the bytes each GPU sent
    /// over the interconnect, and their time (also `time.collective`).
    public struct Collectives: Sendable, Codable, Equatable {
        public var count: Int64
        public var sent_bytes: Int64
        public var time: Double
    }
    public struct Counts: Sendable, Codable, Equatable {
        public var events: Int64 = 0
        public var loads: Int64 = 0
        public var stores: Int64 = 0
        public var computes: Int64 = 0
        public var launches: Int64 = 0
        /// Thread blocks (innermost `parallel` iterations) run, on presets that model waves.
        public var blocks: Int64?
        /// Steps of thread blocks (each block's start and every sequential-loop iteration in
        /// one) times the block's warps, with the idle slots of partial waves, on presets with
        /// a per-step issue time.
        public var warp_steps: Int64?
        /// Bytes thread blocks stored after their sequential loops, with the idle slots of
        /// partial waves, on presets with an L2 bandwidth.
        public var epilogue_bytes: Int64?
        /// DRAM bytes of thread blocks that reduced the rows they loaded without a loop to load
        /// behind the reduction (row kernels), on presets with a row-reduction efficiency.
        public var row_reduction_bytes: Int64?
        /// Bytes of slices thread blocks loaded, updated and stored back inside their loops (the
        /// read and the write; the idle slots of partial waves included), on presets with an L2 bandwidth.
        public var accumulation_bytes: Int64?
    }

    public var kernel = ""
    public var gpu = ""
    public var hbm = HBM()
    public var l2: L2?
    /// Set on traces imported from a profiler (`gpusim import`); nil for simulations.
    public var measured: Measured?
    /// Bytes the SMs asked for: HBM reads plus the L2 hits (the algorithm's IO complexity).
    public var requestedReadBytes: Int64 { l2?.read_bytes ?? hbm.read_bytes }
    /// Bytes the SMs wrote: HBM writes plus what was still dirty in L2 when launches ended.
    public var requestedWriteBytes: Int64 { l2?.write_bytes ?? hbm.write_bytes }
    /// Whether the run knows `section` (a simulation knows everything; a measured trace what its tool counted).
    public func knows(_ section: String) -> Bool { !(measured?.unknown.contains(section) ?? false) }
    public var sram = SRAM()
    public var flops = FLOPs()
    public var time = Time()
    public var collectives: Collectives?
    public var bound = Bound.compute
    public var params: [String: ParamValue] = [:]
    public var counts = Counts()
    /// HBM traffic by tensor name.
    public var tensors: [String: TensorTraffic] = [:]
    /// One per top-level loop nest, repeat or launch of the entry kernel, in order.
    public var phases: [Phase] = []
    /// Launched kernels by name (inclusive of what they launch in turn).
    public var kernels: [String: KernelBreakdown] = [:]

    public struct TensorTraffic: Sendable, Codable, Equatable {
        public var read_bytes: Int64 = 0
        public var write_bytes: Int64 = 0
    }
    public struct Phase: Sendable, Codable, Equatable {
        public var label: String
        public var line: Int
        public var read_bytes: Int64
        public var write_bytes: Int64
        public var flops: Int64
        /// The part of `flops` run on tensor cores (absent in traces written before it existed).
        public var tensor_core_flops: Int64?
        public var time_compute: Double
        public var time_memory: Double
        public var time_total: Double
        public var bound: Bound
        /// L2 traffic (requested reads plus writes) on presets with an L2 model.
        public var l2_bytes: Int64? = nil
        /// GPU kernels the phase ran, on presets that model launches: its `run` statements, or 1
        /// for a top-level `parallel` grid of an entry kernel that is a GPU kernel itself. Absent:
        /// the phase is part of a launch (the entry kernel's other statements).
        public var launches: Int64? = nil
        /// The part of `time_total` that is launch overhead (phases of `run`s).
        public var launch_gaps: Double? = nil
    }
    public struct KernelBreakdown: Sendable, Codable, Equatable {
        public var launches: Int64
        public var read_bytes: Int64
        public var write_bytes: Int64
        public var flops: Int64
        public var time_total: Double
        public var bound: Bound
    }
    public init() {}

    enum CodingKeys: String, CodingKey { case kernel, gpu, hbm, l2, sram, flops, time, bound, params, counts, tensors, phases, kernels, measured }

    /// Fields added within schema version 1 (l2, tensors, phases, kernels, measured) may be absent
    /// in older traces; a measured trace leaves out what its tool did not count.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kernel = try c.decode(String.self, forKey: .kernel)
        gpu = try c.decode(String.self, forKey: .gpu)
        let measured = try c.decodeIfPresent(Measured.self, forKey: .measured)
        self.measured = measured
        let known = { (section: String) in !(measured?.unknown.contains(section) ?? false) }
        hbm = known("hbm") ? try c.decode(HBM.self, forKey: .hbm) : HBM()
        l2 = try c.decodeIfPresent(L2.self, forKey: .l2)
        sram = known("sram") ? try c.decode(SRAM.self, forKey: .sram) : SRAM()
        flops = known("flops") ? try c.decode(FLOPs.self, forKey: .flops) : FLOPs()
        time = try c.decode(Time.self, forKey: .time)
        bound = try c.decode(Bound.self, forKey: .bound)
        params = try c.decode([String: ParamValue].self, forKey: .params)
        counts = try c.decode(Counts.self, forKey: .counts)
        tensors = try c.decodeIfPresent([String: TensorTraffic].self, forKey: .tensors) ?? [:]
        phases = try c.decodeIfPresent([Phase].self, forKey: .phases) ?? []
        kernels = try c.decodeIfPresent([String: KernelBreakdown].self, forKey: .kernels) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(gpu, forKey: .gpu)
        if knows("hbm") { try c.encode(hbm, forKey: .hbm) }
        try c.encodeIfPresent(l2, forKey: .l2)
        if knows("sram") { try c.encode(sram, forKey: .sram) }
        if knows("flops") { try c.encode(flops, forKey: .flops) }
        try c.encode(time, forKey: .time)
        try c.encode(bound, forKey: .bound)
        try c.encode(params, forKey: .params)
        try c.encode(counts, forKey: .counts)
        try c.encode(tensors, forKey: .tensors)
        try c.encode(phases, forKey: .phases)
        try c.encode(kernels, forKey: .kernels)
        try c.encodeIfPresent(measured, forKey: .measured)
    }

    /// Arithmetic intensity: FLOPs per HBM byte.
    public var intensity: Double { hbm.total_bytes == 0 ? .infinity : Double(flops.total) / Double(hbm.total_bytes) }
}

/// A resolved parameter value as it appears in summaries and traces.
public enum ParamValue: Sendable, Codable, Equatable, CustomStringConvertible {
    case int(Int64), float(Double), bool(Bool), dtype(String)

    /// JSON does not keep 1.0 apart from 1, so numbers compare by value.
    public static func == (a: ParamValue, b: ParamValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): x == y
        case (.float(let x), .float(let y)): x == y
        case (.int(let x), .float(let y)), (.float(let y), .int(let x)): Double(x) == y
        case (.bool(let x), .bool(let y)): x == y
        case (.dtype(let x), .dtype(let y)): x == y
        default: false
        }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .float(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .dtype(let v): try c.encode(v)
        }
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int64.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .float(v) }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else { self = .dtype(try c.decode(String.self)) }
    }
    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .dtype(let v): v
        }
    }
}
