/// The additive counters of a run. Loop fast-forwarding compares the tallies of two
/// iterations and adds one iteration's difference for each skipped one, so everything the
/// summary reports must be derivable from these integers.
struct Tally: Equatable {
    var readBytes: Int64 = 0
    var writeBytes: Int64 = 0
    var flops: Int64 = 0
    var matmulFlops: Int64 = 0
    var tensorCoreFlops: Int64 = 0
    /// The tensor-core FLOPs that ran on the warp-level `mma.sync` path on a GPU whose full
    /// rate needs warpgroup MMA (`wgmma`): a part of `tensorCoreFlops`.
    var warpTensorCoreFlops: Int64 = 0
    var elementwiseFlops: Int64 = 0
    var specialFlops: Int64 = 0
    var loads: Int64 = 0
    var stores: Int64 = 0
    var computes: Int64 = 0
    var launches: Int64 = 0
    var overflows: Int64 = 0
    /// Innermost `parallel` iterations (thread blocks) run.
    var blocks: Int64 = 0
    /// Steps of thread blocks (each block's start and every sequential-loop iteration inside
    /// one), each counted once per warp of its block; and the steps the SMs could have run
    /// while idle in partial last waves.
    var warpSteps: Int64 = 0
    var idleWarpSteps: Int64 = 0
    /// Bytes thread blocks store outside their sequential loops (their epilogues), and the
    /// share the SMs idle in partial waves would have stored.
    var epilogueBytes: Int64 = 0
    var idleEpilogueBytes: Int64 = 0
    /// Bytes of slices thread blocks load, update and store back inside their loops
    /// (accumulations in global memory: the read and the write), and the idle waves' share.
    var accumulationBytes: Int64 = 0
    var idleAccumulationBytes: Int64 = 0
    /// DRAM bytes of thread blocks that reduce rows they loaded, with no sequential loop to
    /// load the next data behind the reduction (row kernels: a norm, a softmax).
    var rowReductionBytes: Int64 = 0
    /// FLOPs the SMs could have done while idle in the last, partial wave of each grid:
    /// wave quantisation, charged as compute time.
    var idleTensorCoreFlops: Int64 = 0
    var idleVectorFlops: Int64 = 0
    var idleWarpTensorCoreFlops: Int64 = 0
    /// Bytes the SMs read (through L2); `readBytes` is what came from HBM.
    var l2ReadBytes: Int64 = 0
    /// Bytes the SMs wrote (into L2); `writeBytes` is what reached HBM during the launches.
    var l2WriteBytes: Int64 = 0
    /// Operations on the special-function units (an exp, a reciprocal square root: one per
    /// element of a special tile op, two for silu).
    var sfuOps: Int64 = 0
    /// Presets that model launches: the kernel time of the GPU kernels run so far, each
    /// launch's compute and memory overlapped on their own, in femtoseconds (an integer, so
    /// fast-forward stays exact), and the work those launches did (what is left is the
    /// launching kernel's own).
    var kernelFemtoseconds: Int64 = 0
    var launched = Cost()
    /// Collectives (`allreduce`, `allgather` across more than one GPU): how many, the bytes each GPU sent
    /// over the interconnect, and their time in femtoseconds (they run between launches).
    var collectives: Int64 = 0
    var collectiveBytes: Int64 = 0
    var collectiveFemtoseconds: Int64 = 0
    /// Trace events the run produces, counted with or without a sink (a trace's size is known
    /// before it is written).
    var events: Int64 = 0
    /// Per-index counters, grown on demand: traffic by global tensor id, work by launched kernel
    /// (the named vectors, then one per field of a kernel's `Cost`).
    var vectors: [[Int64]] = Array(repeating: [], count: Vector.allCases.count + Cost.fields.count)

    enum Vector: Int, CaseIterable {
        case tensorRead, tensorWrite, kernelLaunches, kernelRead, kernelWrite, kernelFlops, kernelFemtoseconds
    }

    /// The FLOPs compute time is charged for: the work plus the idle slots of partial waves.
    var effectiveFlops: Int64 { flops &+ idleTensorCoreFlops &+ idleVectorFlops }
    var effectiveTensorCoreFlops: Int64 { tensorCoreFlops &+ idleTensorCoreFlops }
    var effectiveWarpTensorCoreFlops: Int64 { warpTensorCoreFlops &+ idleWarpTensorCoreFlops }
    var effectiveWarpSteps: Int64 { warpSteps &+ idleWarpSteps }
    var effectiveEpilogueBytes: Int64 { epilogueBytes &+ idleEpilogueBytes }
    var effectiveAccumulationBytes: Int64 { accumulationBytes &+ idleAccumulationBytes }

    @inline(__always) mutating func bump(_ v: Vector, _ index: Int, by n: Int64) { bump(vector: v.rawValue, index, by: n) }
    @inline(__always) private mutating func bump(vector v: Int, _ index: Int, by n: Int64) {
        while vectors[v].count <= index { vectors[v].append(0) }
        vectors[v][index] &+= n
    }

    func value(_ v: Vector, _ index: Int) -> Int64 { value(vector: v.rawValue, index) }
    private func value(vector v: Int, _ index: Int) -> Int64 { index < vectors[v].count ? vectors[v][index] : 0 }

    /// The work kernel `index` did in its launches, and adding to it.
    func kernelCost(_ index: Int) -> Cost {
        var c = Cost()
        for (f, field) in Cost.fields.enumerated() { c[keyPath: field] = value(vector: Vector.allCases.count + f, index) }
        return c
    }
    mutating func bumpKernel(_ index: Int, by c: Cost) {
        for (f, field) in Cost.fields.enumerated() where c[keyPath: field] != 0 { bump(vector: Vector.allCases.count + f, index, by: c[keyPath: field]) }
    }

    nonisolated(unsafe) static let fields: [WritableKeyPath<Tally, Int64>] = {
        let own: [WritableKeyPath<Tally, Int64>] = [
            \.readBytes, \.writeBytes, \.flops, \.matmulFlops, \.tensorCoreFlops, \.elementwiseFlops,
            \.specialFlops, \.loads, \.stores, \.computes, \.launches, \.overflows,
            \.blocks, \.idleTensorCoreFlops, \.idleVectorFlops, \.l2ReadBytes, \.l2WriteBytes, \.sfuOps,
            \.kernelFemtoseconds, \.events,
            \.collectives, \.collectiveBytes, \.collectiveFemtoseconds,
            \.warpTensorCoreFlops, \.idleWarpTensorCoreFlops,
            \.warpSteps, \.idleWarpSteps,
            \.epilogueBytes, \.idleEpilogueBytes, \.rowReductionBytes, \.accumulationBytes, \.idleAccumulationBytes,
        ]
        let launched: WritableKeyPath<Tally, Cost> = \.launched
        return own + Cost.fields.map { launched.appending(path: $0) }
    }()

    static func - (a: Tally, b: Tally) -> Tally {
        var out = Tally()
        for f in fields { out[keyPath: f] = a[keyPath: f] - b[keyPath: f] }
        for v in a.vectors.indices {
            for i in 0..<max(a.vectors[v].count, b.vectors[v].count) {
                out.bump(vector: v, i, by: a.value(vector: v, i) - b.value(vector: v, i))
            }
        }
        return out
    }

    /// Adds `times` copies of `delta`, refusing to wrap around.
    mutating func add(_ delta: Tally, times: Int64) throws(SimulationError) {
        for f in Self.fields {
            let (p, o1) = delta[keyPath: f].multipliedReportingOverflow(by: times)
            let (s, o2) = self[keyPath: f].addingReportingOverflow(p)
            if o1 || o2 { throw .input("a counter overflowed 64 bits (the run is too large to count exactly)") }
            self[keyPath: f] = s
        }
        for v in delta.vectors.indices {
            for (i, d) in delta.vectors[v].enumerated() where d != 0 {
                let (p, o) = d.multipliedReportingOverflow(by: times)
                if o { throw .input("a counter overflowed 64 bits (the run is too large to count exactly)") }
                bump(vector: v, i, by: p)
            }
        }
    }

    mutating func addFlops(_ n: Int64, special: Bool) throws(SimulationError) {
        let (t, o) = flops.addingReportingOverflow(n)
        if o { throw .input("the FLOP count overflowed 64 bits") }
        flops = t
        if special { specialFlops &+= n } else { elementwiseFlops &+= n }
    }

    mutating func addMatmul(_ n: Int64, tensorCore: Bool, warpLevel: Bool = false) throws(SimulationError) {
        let (t, o) = flops.addingReportingOverflow(n)
        if o { throw .input("the FLOP count overflowed 64 bits") }
        flops = t
        matmulFlops &+= n
        if tensorCore { tensorCoreFlops &+= n }
        if tensorCore && warpLevel { warpTensorCoreFlops &+= n }
    }
}

/// What one launch's time derives from (all additive): its compute and memory counters,
/// the idle slots of partial waves included.
struct Cost: Equatable {
    var bytes: Int64 = 0
    /// The part of `bytes` row kernels move (at the preset's row-reduction efficiency).
    var rowReductionBytes: Int64 = 0
    /// Bytes through L2 (reads and writes the SMs make).
    var l2Bytes: Int64 = 0
    /// Special-function operations, and the FLOPs of special tile ops they replace on a preset
    /// with special-function units.
    var sfuOps: Int64 = 0
    var special: Int64 = 0
    /// Effective FLOPs: work plus the idle slots of partial waves.
    var flops: Int64 = 0
    var tensorCore: Int64 = 0
    /// The part of `tensorCore` on the warp-level `mma.sync` path.
    var warpTensorCore: Int64 = 0
    /// Thread-block steps times warps, the idle slots of partial waves included.
    var warpSteps: Int64 = 0
    /// Blocks' epilogue and global-accumulation bytes, the idle slots of partial waves included.
    var epilogueBytes: Int64 = 0
    var accumulationBytes: Int64 = 0

    nonisolated(unsafe) static let fields: [WritableKeyPath<Cost, Int64>] = [\.bytes, \.rowReductionBytes, \.l2Bytes, \.sfuOps, \.special, \.flops, \.tensorCore, \.warpTensorCore, \.warpSteps, \.epilogueBytes, \.accumulationBytes]

    // Field by field rather than through key paths: replay adds a Work per event.
    static func - (a: Cost, b: Cost) -> Cost {
        Cost(bytes: a.bytes &- b.bytes, rowReductionBytes: a.rowReductionBytes &- b.rowReductionBytes, l2Bytes: a.l2Bytes &- b.l2Bytes, sfuOps: a.sfuOps &- b.sfuOps, special: a.special &- b.special, flops: a.flops &- b.flops,
             tensorCore: a.tensorCore &- b.tensorCore, warpTensorCore: a.warpTensorCore &- b.warpTensorCore, warpSteps: a.warpSteps &- b.warpSteps, epilogueBytes: a.epilogueBytes &- b.epilogueBytes, accumulationBytes: a.accumulationBytes &- b.accumulationBytes)
    }
    static func + (a: Cost, b: Cost) -> Cost {
        Cost(bytes: a.bytes &+ b.bytes, rowReductionBytes: a.rowReductionBytes &+ b.rowReductionBytes, l2Bytes: a.l2Bytes &+ b.l2Bytes, sfuOps: a.sfuOps &+ b.sfuOps, special: a.special &+ b.special, flops: a.flops &+ b.flops,
             tensorCore: a.tensorCore &+ b.tensorCore, warpTensorCore: a.warpTensorCore &+ b.warpTensorCore, warpSteps: a.warpSteps &+ b.warpSteps, epilogueBytes: a.epilogueBytes &+ b.epilogueBytes, accumulationBytes: a.accumulationBytes &+ b.accumulationBytes)
    }
}

/// The part of a tally that time derives from (all additive, so a replayed event's clock is its
/// recorded work plus the skipped iterations' difference): all the work, the part of it that
/// composed launches covered, and the launches' and collectives' own times.
struct Work: Equatable {
    var cost = Cost()
    var launched = Cost()
    var launches: Int64 = 0
    var kernelFemtoseconds: Int64 = 0
    var collectiveFemtoseconds: Int64 = 0

    static func - (a: Work, b: Work) -> Work {
        Work(cost: a.cost - b.cost, launched: a.launched - b.launched, launches: a.launches &- b.launches,
             kernelFemtoseconds: a.kernelFemtoseconds &- b.kernelFemtoseconds, collectiveFemtoseconds: a.collectiveFemtoseconds &- b.collectiveFemtoseconds)
    }
    static func + (a: Work, b: Work) -> Work {
        Work(cost: a.cost + b.cost, launched: a.launched + b.launched, launches: a.launches &+ b.launches,
             kernelFemtoseconds: a.kernelFemtoseconds &+ b.kernelFemtoseconds, collectiveFemtoseconds: a.collectiveFemtoseconds &+ b.collectiveFemtoseconds)
    }
}

extension Tally {
    var cost: Cost {
        Cost(bytes: readBytes &+ writeBytes, rowReductionBytes: rowReductionBytes, l2Bytes: l2ReadBytes &+ l2WriteBytes, sfuOps: sfuOps, special: specialFlops, flops: effectiveFlops,
             tensorCore: effectiveTensorCoreFlops, warpTensorCore: effectiveWarpTensorCoreFlops, warpSteps: effectiveWarpSteps, epilogueBytes: effectiveEpilogueBytes, accumulationBytes: effectiveAccumulationBytes)
    }
    var work: Work {
        Work(cost: cost, launched: launched, launches: launches, kernelFemtoseconds: kernelFemtoseconds, collectiveFemtoseconds: collectiveFemtoseconds)
    }
}
