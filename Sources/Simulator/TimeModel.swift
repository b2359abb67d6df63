import Foundation
import KernLang

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
    /// Achievable HBM bytes per time unit, streaming and in row kernels.
    let memoryRate: Double
    let rowReductionRate: Double

    init(_ gpu: GPUModel) {
        self.gpu = gpu
        memoryRate = gpu.hbmBandwidth * gpu.hbmEfficiency
        rowReductionRate = gpu.hbmBandwidth * (gpu.rowReductionEfficiency ?? gpu.hbmEfficiency)
    }

    /// Compute time of `flops`, of which `tensorCore` run on tensor cores (`warp` of those on the
    /// warp-level `mma.sync` path, at its own peak where the preset gives one). On a preset with
    /// special-function units, the `special` FLOPs (exp, rsqrt, ...) are `sfuOps` operations on
    /// those units instead of CUDA-core FLOPs. The pipes take turns (their times add). On a
    /// preset with a per-step issue time, the SMs cannot go faster than their thread blocks'
    /// steps (`warpSteps`, each block's start and sequential-loop iterations times its warps)
    /// allow: the compute time is at least that floor.
    func compute(flops: Int64, tensorCore: Int64, warp: Int64 = 0, special: Int64 = 0, sfuOps: Int64 = 0, warpSteps: Int64 = 0, epilogueBytes: Int64 = 0, accumulationBytes: Int64 = 0) -> Double {
        Swift.max(pipes(flops: flops, tensorCore: tensorCore, warp: warp, special: special, sfuOps: sfuOps) + l2Wait(epilogueBytes) + l2Wait(accumulationBytes), steps(warpSteps))
    }

    /// The time bytes through L2 keep the SMs' math waiting (blocks' epilogues, accumulations
    /// in global memory): the bytes at the L2 bandwidth.
    func l2Wait(_ bytes: Int64) -> Double {
        guard gpu.modelsEpilogues, let l2 = gpu.l2Bandwidth, bytes > 0 else { return 0 }
        return Double(bytes) / l2
    }

    /// The issue time of `warpSteps` spread over the SMs.
    func steps(_ warpSteps: Int64) -> Double {
        guard let t = gpu.warpStepTime, warpSteps > 0 else { return 0 }
        return Double(warpSteps) * t / Double(Swift.max(1, gpu.sms))
    }

    private func pipes(flops: Int64, tensorCore: Int64, warp: Int64, special: Int64, sfuOps: Int64) -> Double {
        let rate = gpu.computeEfficiency
        var other = Double(flops - tensorCore), t = 0.0
        if let sfu = gpu.sfuRate {
            other -= Double(special)
            t += Double(sfuOps) / (sfu * rate)
        }
        if gpu.matmulFlops == gpu.vectorFlops { return t + (other + Double(tensorCore)) / (gpu.vectorFlops * rate) }
        guard let warpRate = gpu.warpMatmulFlops, warp > 0 else { return t + Double(tensorCore) / (gpu.matmulFlops * rate) + other / (gpu.vectorFlops * rate) }
        return t + Double(tensorCore - warp) / (gpu.matmulFlops * rate) + Double(warp) / (warpRate * rate) + other / (gpu.vectorFlops * rate)
    }

    /// Compute time of work, the idle slots of partial waves included.
    func compute(_ c: Cost) -> Double { compute(flops: c.flops, tensorCore: c.tensorCore, warp: c.warpTensorCore, special: c.special, sfuOps: c.sfuOps, warpSteps: c.warpSteps, epilogueBytes: c.epilogueBytes, accumulationBytes: c.accumulationBytes) }
    func compute(_ t: Tally) -> Double { compute(t.cost) }

    /// Memory time: DRAM bytes at the achievable HBM bandwidth (the row kernels' share at the
    /// lower row-reduction rate), or the bytes through L2 at its bandwidth when that takes
    /// longer (small tiles re-reading L2-resident data).
    func memory(bytes: Int64, l2Bytes: Int64 = 0, rowReductionBytes: Int64 = 0) -> Double {
        let dram = Double(bytes - rowReductionBytes) / memoryRate + Double(rowReductionBytes) / rowReductionRate
        guard let l2 = gpu.l2Bandwidth, l2Bytes > 0 else { return dram }
        return Swift.max(dram, Double(l2Bytes) / l2)
    }
    func memory(_ c: Cost) -> Double { memory(bytes: c.bytes, l2Bytes: c.l2Bytes, rowReductionBytes: c.rowReductionBytes) }
    func memory(_ t: Tally) -> Double { memory(t.cost) }

    /// A ring collective on `bytes` across `gpus` GPUs: an all-gather takes n - 1 steps, an
    /// all-reduce 2 (n - 1) (a reduce-scatter, then an all-gather), each step sending and
    /// receiving a 1/n chunk at the per-direction rate (half the quoted bidirectional one).
    /// Returns the time and the bytes each GPU sends.
    func collective(_ op: Collective, bytes: Int64, gpus n: Int64) -> (time: Double, sent: Int64) {
        guard n > 1, let link = gpu.interconnectBandwidth else { return (0, 0) }
        let steps = (op == .allreduce ? 2 : 1) * (n - 1), chunk = Double(bytes) / Double(n)
        let rate = link / 2 * GPUModel.interconnectEfficiency
        return (Double(steps) * ((gpu.interconnectLatency ?? 0) + chunk / rate), Int64((Double(steps) * chunk).rounded()))
    }

    /// Collective time in a stretch of work (between launches, on its own line).
    func collectives(_ w: Work) -> Double { Double(w.collectiveFemtoseconds) / 1e15 }

    /// Launch overhead of `launches` GPU kernels (0 for presets without one).
    func launches(_ launches: Int64) -> Double { Double(launches) * (gpu.launchOverhead ?? 0) }

    /// The time of work done within one launch: its compute and memory composed, plus the
    /// latency of filling and draining the GPU that no launch avoids.
    func launch(_ w: Work) -> Double { running(w) + (gpu.launchLatency ?? 0) }
    /// A launch's time so far, while it runs: its latency counts when it ends (its last stores
    /// drain), so a clock that adds it then never goes back.
    func running(_ w: Work) -> Double { gpu.compose(compute: compute(w.cost), memory: memory(w.cost)) }
    func launch(_ d: Tally) -> Double { launch(d.work) }

    /// A time in whole femtoseconds: how per-launch times are counted (integers keep
    /// fast-forward exact), and so how the rest of a run that launches kernels is rounded too.
    static func femtoseconds(_ t: Double) -> Int64 { Int64((t * 1e15).rounded()) }

    /// Launched kernels' times (`fs`, femtoseconds) plus the work `w` no launch covered, in seconds.
    func launched(_ fs: Int64, plus w: Work) -> Double { Double(fs + Self.femtoseconds(uncovered(w))) / 1e15 }

    /// Work `d` that no composed launch covered (a launching kernel's own), composed as one.
    func uncovered(_ d: Work) -> Double {
        let own = d.cost - d.launched
        guard own.bytes > 0 || own.flops > 0 else { return 0 }
        return gpu.compose(compute: compute(own), memory: memory(own))
    }

    /// The kernel time of a stretch `d` of a run, launch overhead aside: the sum of the launches'
    /// own times and the rest composed, when the stretch ran launches on a preset that models
    /// them; otherwise its compute and memory composed as one.
    func stretch(_ d: Tally) -> Double {
        gpu.modelsLaunches && d.launches > 0 ? launched(d.kernelFemtoseconds, plus: d.work) : launch(d)
    }

    /// The run's kernel time, launch overhead aside. Presets that model launches sum each
    /// launch's own overlap of compute and memory: the `run`s of GPU kernels as they ended, or,
    /// for an entry that is a GPU kernel, its top-level grids (`grids`; statements around them
    /// join the next grid, trailing ones the last; without grids the whole entry is one
    /// launch). The seed's model composes the totals.
    func run(_ t: Tally, entryIsGPUKernel: Bool, grids: GridClock) -> Double {
        guard gpu.modelsLaunches else { return launch(t) }
        guard entryIsGPUKernel else { return launched(t.kernelFemtoseconds, plus: t.work) }
        return grids.beforeLast + launch(t.work - (grids.lastStart ?? Work()))
    }

    /// The clock an event is stamped with, after work `w`, composed as the run's time is: the
    /// seed's model composes all work; an entry that launches kernels adds the launches that
    /// ended (each overlapped on its own) to the rest composed; an entry that is a GPU kernel
    /// adds its ended grids (`grids`) to the open one.
    /// While a GPU kernel it launched runs (it started at work `openLaunch`), that launch is
    /// timed on its own, as it will be when it ends, so the clock never goes back. Launch
    /// overhead and collectives on top. The end of a run is stamped with its `time.total`.
    /// `betweenGrids`: no grid of such an entry runs now. Statements after a grid join the next
    /// grid if one follows and the last one if none does, which is not known yet: the clock
    /// reads the smaller of the two, so it never passes the total and never goes back (the
    /// next grid's reading is the larger, as its launch overlaps less).
    func clock(_ w: Work, openLaunch: Work?, entryIsGPUKernel: Bool, grids: GridClock, betweenGrids: Bool = false) -> Double {
        guard gpu.modelsLaunches else { return launch(w) + launches(w.launches) + collectives(w) }
        if entryIsGPUKernel {
            var t = grids.closed + running(w - grids.openStart)
            if betweenGrids, let last = grids.lastStart { t = Swift.min(t, grids.beforeLast + launch(w - last)) }
            return t + launches(w.launches + 1) + collectives(w)
        }
        if let start = openLaunch {
            return launched(w.kernelFemtoseconds + Self.femtoseconds(running(w - start)), plus: start) + launches(w.launches) + collectives(w)
        }
        return launched(w.kernelFemtoseconds, plus: w) + launches(w.launches) + collectives(w)
    }
}

/// The top-level grids of an entry that is a GPU kernel, each a launch of its own: their
/// times summed as they end (in order, so the run's total and the clock add alike).
struct GridClock {
    /// All ended grids' times, and all but the last one's.
    var closed = 0.0, beforeLast = 0.0
    /// Where the last ended grid began (trailing statements join it), and where the open part begins.
    var lastStart: Work?
    var openStart = Work()

    mutating func close(at w: Work, _ time: TimeModel) {
        beforeLast = closed
        closed += time.launch(w - openStart)
        lastStart = openStart
        openStart = w
    }
}
