import Foundation

/// What limits a piece of work: whichever of its memory and compute times is larger (the one
/// definition every summary, phase, kernel and roofline point uses). `unknown` for measured
/// runs, whose profiler gives one time, not the two.
public enum Bound: String, Sendable, Codable {
    case memory, compute, unknown
    public init(compute: Double, memory: Double) { self = memory > compute ? .memory : .compute }
}

/// The time model: pure functions from counters (a `Tally`, or parts of one) to time in the
/// preset's unit. Nothing here reads the interpreter's state, so a summary, a phase, a launch
/// and a replayed event are all timed by the same rules.
struct TimeModel {
    let gpu: GPUModel
    /// Achievable HBM bytes per time unit.
    let memoryRate: Double

    init(_ gpu: GPUModel) {
        self.gpu = gpu
        memoryRate = gpu.hbmBandwidth * gpu.hbmEfficiency
    }

    /// Compute time of `flops`, of which `tensorCore` run on tensor cores.
    func compute(flops: Int64, tensorCore: Int64) -> Double {
        let rate = gpu.computeEfficiency
        if gpu.matmulFlops == gpu.vectorFlops { return Double(flops) / (gpu.vectorFlops * rate) }
        return Double(tensorCore) / (gpu.matmulFlops * rate) + Double(flops - tensorCore) / (gpu.vectorFlops * rate)
    }

    /// Compute time of a tally's work, the idle slots of partial waves included.
    func compute(_ t: Tally) -> Double { compute(flops: t.effectiveFlops, tensorCore: t.effectiveTensorCoreFlops) }

    func memory(bytes: Int64) -> Double { Double(bytes) / memoryRate }
    func memory(_ t: Tally) -> Double { memory(bytes: t.readBytes + t.writeBytes) }

    /// Launch overhead of `launches` GPU kernels (0 for presets without one).
    func launches(_ launches: Int64) -> Double { Double(launches) * (gpu.launchOverhead ?? 0) }

    /// The time of work done within one launch: its compute and memory composed.
    func launch(_ d: Tally) -> Double { gpu.compose(compute: compute(d), memory: memory(d)) }

    /// Work `d` that no composed launch covered (a launching kernel's own), composed as one.
    func uncovered(_ d: Tally) -> Double {
        let bytes = d.readBytes + d.writeBytes - d.launchedBytes
        let flops = d.effectiveFlops - d.launchedFlops, tensor = d.effectiveTensorCoreFlops - d.launchedTensorCoreFlops
        guard bytes > 0 || flops > 0 else { return 0 }
        return gpu.compose(compute: compute(flops: flops, tensorCore: tensor), memory: memory(bytes: bytes))
    }

    /// The kernel time of a stretch `d` of a run, launch overhead aside: the sum of the launches'
    /// own times and the rest composed, when the stretch ran launches on a preset that models
    /// them; otherwise its compute and memory composed as one.
    func stretch(_ d: Tally) -> Double {
        gpu.modelsLaunches && d.launches > 0 ? Double(d.kernelFemtoseconds) / 1e15 + uncovered(d) : launch(d)
    }

    /// The run's kernel time, launch overhead aside. Presets that model launches sum each
    /// launch's own overlap of compute and memory: the `run`s of GPU kernels as they ended, or,
    /// for an entry that is a GPU kernel (`gridEnds`: the tallies where its top-level grids
    /// ended), its grids (statements around them join the next grid, trailing ones the last;
    /// without grids the whole entry is one launch). The seed's model composes the totals.
    func run(_ t: Tally, entryIsGPUKernel: Bool, gridEnds: [Tally]) -> Double {
        guard gpu.modelsLaunches else { return launch(t) }
        guard entryIsGPUKernel else { return Double(t.kernelFemtoseconds) / 1e15 + uncovered(t) }
        var bounds = gridEnds
        if !bounds.isEmpty { bounds.removeLast() }
        bounds.append(t)
        var total = 0.0, previous = Tally()
        for b in bounds {
            total += launch(b - previous)
            previous = b
        }
        return total
    }

    /// The clock an event is stamped with: the work so far composed, plus the launches' overhead.
    func clock(bytes: Int64, flops: Int64, tensorCore: Int64, launches n: Int64) -> Double {
        gpu.compose(compute: compute(flops: flops, tensorCore: tensorCore), memory: memory(bytes: bytes)) + launches(n)
    }
}
