import Foundation
import Simulator

/// The seed-style human report: peak HBM, the SRAM bar, traffic, the time bar and the verdict.
public struct TerminalReport {
    public var color: Bool
    public var width = 40
    public init(color: Bool) { self.color = color }

    func paint(_ code: String, _ s: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    /// A bar of `fraction` of the width; above 1 it is full and gets a `+X%` tag.
    public func bar(_ fraction: Double) -> String {
        let f = fraction.isFinite ? max(0, fraction) : 0
        let filled = Int((min(f, 1) * Double(width)).rounded())
        let body = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let colored = paint(f > 1 ? "31" : f > 0.9 ? "33" : "32", body)
        let over = (f - 1) * 100
        return "[\(colored)]" + (f > 1 ? paint("1;31", over < 1 ? String(format: " +%.2f%%", over) : " +\(Int(over.rounded()))%") : "")
    }

    public func render(_ s: RunSummary, gpu: GPUModel) -> String {
        let seed = gpu.countsElements
        let eb = Int64(gpu.elementBytes ?? 1)
        func amount(_ bytes: Int64) -> String {
            seed ? "\(group(bytes / eb)) elements (\(fmtBytes(bytes)))" : fmtBytes(bytes)
        }
        func time(_ t: Double) -> String { fmtTime(t, s.time.unit) }
        var lines: [String] = []
        let params = s.params.sorted { $0.key < $1.key }.map { p -> String in
            if case .float(let x) = p.value { return "\(p.key)=" + String(format: "%.6g", x) }
            return "\(p.key)=\(p.value)"
        }.joined(separator: " ")
        lines.append(paint("1", "\(s.kernel)") + " on \(gpu.name)   \(params)")
        lines.append("  Peak HBM     \(amount(s.hbm.peak_bytes))" + (s.hbm.capacity_bytes.map { " of \(fmtBytes($0))" } ?? ""))
        let frac = Double(s.sram.peak_bytes) / Double(s.sram.capacity_bytes)
        let pct = frac > 1 ? "" : " \(Int((frac * 100).rounded()))%"
        lines.append("  Peak SRAM    \(bar(frac))\(pct)  \(amount(s.sram.peak_bytes)) of \(amount(s.sram.capacity_bytes))")
        if s.sram.overflow {
            lines.append("               " + paint("1;31", "overflow") + ": \(s.sram.overflow_count) allocation(s) over capacity, worst by \(amount(s.sram.max_overflow_bytes)), first at \(s.sram.first_overflow ?? "?")")
        }
        lines.append("  HBM traffic  reads \(amount(s.hbm.read_bytes)), writes \(amount(s.hbm.write_bytes)), total \(amount(s.hbm.total_bytes))")
        if let l2 = s.l2, let line = Self.l2Line(l2, amount: amount) { lines.append("  L2           " + line) }
        lines.append("  FLOPs        \(group(Double(s.flops.total))) (matmul \(group(Double(s.flops.matmul))), elementwise \(group(Double(s.flops.elementwise))), special \(group(Double(s.flops.special))))")
        let tot = s.time.compute + s.time.memory
        let cf = tot > 0 ? s.time.compute / tot : 0
        let cw = Int((cf * Double(width)).rounded())
        lines.append("  Time         compute \(time(s.time.compute)), memory \(time(s.time.memory)), total \(time(s.time.total))"
                     + (!gpu.overlap ? " (serial)" : gpu.modelsLaunches ? " (overlapped within each launch)" : " (overlapped)"))
        // Distinct glyphs as well as colours, so the split reads without colour too.
        lines.append("               [" + paint("36", String(repeating: "█", count: cw)) + paint("35", String(repeating: "▒", count: width - cw)) + "] " + paint("36", "█ compute") + " vs " + paint("35", "▒ memory"))
        if let c = s.collectives {
            lines.append("  Collectives  \(group(Double(c.count))) across GPUs, \(amount(c.sent_bytes)) sent per GPU, \(time(c.time)) (in the total, between launches)")
        }
        let verdict = "\(s.bound.rawValue)-bound"
        lines.append("  Verdict      " + paint("1", verdict) + String(format: "  (arithmetic intensity %.1f FLOP/byte)", s.intensity))
        for note in boundNotes(s) { lines.append("               " + note) }
        if !s.kernels.isEmpty {
            // Launched kernels, heaviest traffic first.
            lines.append("  Kernels      launches   HBM traffic          FLOPs          time   bound")
            for (name, k) in s.kernels.sorted(by: { ($0.value.read_bytes + $0.value.write_bytes, $1.key) > ($1.value.read_bytes + $1.value.write_bytes, $0.key) }) {
                let label = "    " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                lines.append(label + group(Double(k.launches)).leftPadded(6) + fmtBytes(k.read_bytes + k.write_bytes).leftPadded(14)
                             + group(Double(k.flops)).leftPadded(19) + time(k.time_total).leftPadded(14) + "   " + k.bound.rawValue)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `--explain-time`: how the time of the whole run and of each phase follows from its bytes
    /// and FLOPs under the preset's rates.
    /// What the L2 did, in one line (the terminal and HTML reports): hits among the SMs' reads,
    /// and the stored bytes still dirty when their launch ended.
    public static func l2Line(_ l2: RunSummary.L2, amount: (Int64) -> String) -> String? {
        guard let read = l2.read_bytes, let hit = l2.hit_bytes, hit > 0 || (l2.dirty_bytes ?? 0) > 0 else { return nil }
        var line = "SMs read \(amount(read)), \(amount(hit)) (\(read > 0 ? Int((100 * Double(hit) / Double(read)).rounded()) : 0) %) of it L2 hits"
        if let w = l2.write_bytes, let dirty = l2.dirty_bytes, dirty > 0 {
            line += "; wrote \(amount(w)), \(amount(dirty)) still dirty in L2 at launch ends"
        }
        return line + (l2.cache.map { " (--cache \($0.rawValue))" } ?? "")
    }

    public func explainTime(_ s: RunSummary, gpu: GPUModel) -> String {
        let seed = gpu.units == .cycles
        let per = seed ? "cycle" : "s"
        func rate(_ v: Double) -> String { seed ? String(format: "%g", v) : RooflineChart.tick(v) }
        func t(_ v: Double) -> String { seed ? "\(group(v)) cycles" : fmtSeconds(v) }
        let bw = gpu.hbmBandwidth * gpu.hbmEfficiency
        let tc = gpu.matmulFlops * gpu.computeEfficiency, cc = gpu.vectorFlops * gpu.computeEfficiency
        var lines = ["Time model (\(gpu.name)): memory = HBM bytes / \(rate(bw)) B/\(per) (\(rate(gpu.hbmBandwidth)) peak x \(gpu.hbmEfficiency))"
                     + (gpu.rowReductionEfficiency.map { " (row kernels' at x \($0))" } ?? "")
                     + (gpu.l2Bandwidth.map { ", or L2 bytes / \(rate($0)) B/\(per) when longer" } ?? "") + ";"]
        let composition = !gpu.overlap ? "compute + memory, serial (the seed's model)"
            : gpu.modelsLaunches ? "each launch's max(compute, memory), summed over launches" : "max(compute, memory), overlapped"
        if gpu.matmulFlops == gpu.vectorFlops {
            lines.append("  compute = FLOPs / \(rate(cc)) FLOP/\(per); total = \(composition)")
        } else {
            lines.append("  compute = tensor-core FLOPs / \(rate(tc)) + other FLOPs / \(rate(cc)) FLOP/\(per) (peaks x \(gpu.computeEfficiency))"
                         + (gpu.modelsEpilogues ? " + the blocks' epilogues and global accumulations" : "")
                         + (gpu.warpStepTime != nil ? ", at least the blocks' steps (below)" : "") + "; total = \(composition)")
        }
        if let warp = gpu.warpMatmulFlops, let n = s.flops.mma_sync, n > 0 {
            lines.append("  tensor-core products shorter than \(GPUModel.warpgroupMMARows) rows, or in a kernel built for an older GPU (target 80), run on mma.sync at \(rate(warp * gpu.computeEfficiency)) FLOP/\(per) instead (\(group(Double(n))) FLOPs)")
        }
        if let sfu = gpu.sfuRate, s.flops.special > 0 {
            lines.append("  special functions (exp, rsqrt, ...) run on the SFUs at \(rate(sfu * gpu.computeEfficiency)) op/\(per) instead, one op per element (\(group(Double(s.flops.special))) special FLOPs)")
        }
        if let l = gpu.launchLatency, l > 0 {
            lines.append("  every launch also takes \(t(l)) to fill the SMs and drain its last stores (in the kernel time)")
        }
        func explain(_ label: String, bytes: Int64, l2: Int64?, flops: Int64, tensor: Int64?, compute: Double, memory: Double, total: Double, bound: Bound) {
            let tcf = tensor ?? 0
            // Name the L2 traffic where its ceiling, not DRAM, set the memory time.
            let l2Bound = l2.map { l2 in gpu.l2Bandwidth.map { Double(l2) / $0 > Double(bytes) / bw } ?? false } ?? false
            var c = "\(fmtBytes(bytes))\(l2Bound ? " DRAM, \(fmtBytes(l2!)) through L2" : "") -> memory \(t(memory)); "
            c += gpu.matmulFlops == gpu.vectorFlops ? "\(group(Double(flops))) FLOPs" : "\(group(Double(tcf))) tensor-core + \(group(Double(flops - tcf))) other FLOPs"
            c += " -> compute \(t(compute)); total \(t(total)), \(bound.rawValue)-bound"
            lines.append("  \(label): " + c)
        }
        explain("whole run", bytes: s.hbm.total_bytes, l2: s.l2?.bytes, flops: s.flops.total, tensor: s.flops.tensor_core, compute: s.time.compute, memory: s.time.memory, total: s.time.total, bound: s.bound)
        if let k = s.time.kernel {
            lines.append("  kernel time \(t(k)): each launch overlaps its own compute and memory (a compute-bound launch cannot hide a later memory-bound one); max(compute, memory) of the whole run would be \(t(gpu.compose(compute: s.time.compute, memory: s.time.memory)))")
        }
        for p in s.phases {
            explain("line \(p.line) \(p.label)", bytes: p.read_bytes + p.write_bytes, l2: p.l2_bytes, flops: p.flops, tensor: p.tensor_core_flops,
                    compute: p.time_compute, memory: p.time_memory, total: p.time_total, bound: p.bound)
        }
        if let w = s.time.wave_idle, let blocks = s.counts.blocks {
            lines.append("  waves: \(group(Double(blocks))) thread blocks over \(gpu.sms) SMs, each grid taking ceil(blocks / SMs) rounds (the blocks resident on an SM share it); the idle SMs of partial last rounds add \(t(w)) to compute")
        }
        if let floor = s.time.block_steps, let n = s.counts.warp_steps, let step = gpu.warpStepTime, n > 0 {
            lines.append("  block steps: \(group(Double(n))) warp-steps (each block's start and each iteration of a sequential loop in it, times its warps) x \(seed ? t(step) : String(format: "%.1f ns", step * 1e9)) / \(gpu.sms) SMs = \(t(floor)): no launch computes faster than its share of these")
        }
        if let e = s.time.block_epilogues, let n = s.counts.epilogue_bytes, let l2 = gpu.l2Bandwidth, n > 0 {
            lines.append("  block epilogues: \(fmtBytes(n)) stored after the blocks' loops / \(rate(l2)) B/\(per) through L2 = \(t(e)), in compute (the math waits for them)")
        }
        if let a = s.time.global_accumulations, let n = s.counts.accumulation_bytes, let l2 = gpu.l2Bandwidth, n > 0 {
            lines.append("  global accumulations: \(fmtBytes(n)) loaded, updated and stored back inside the blocks' loops (read-modify-writes in L2, atomics across blocks) / \(rate(l2)) B/\(per) = \(t(a)), in compute (the math waits for them)")
        }
        if let extra = s.time.row_reductions, let n = s.counts.row_reduction_bytes, let e = gpu.rowReductionEfficiency, n > 0 {
            lines.append("  row kernels: \(fmtBytes(n)) of DRAM traffic in blocks that reduce the rows they loaded before they store, with no loop to load behind the reduction, stream at \(rate(gpu.hbmBandwidth * e)) B/\(per) (peak x \(e)): \(t(extra)) more memory time than streaming")
        }
        if let l = s.time.launch_gaps, let o = gpu.launchOverhead, o > 0 {
            let n = (l / o).rounded()
            lines.append("  launches: \(group(n)) GPU kernel\(n == 1 ? "" : "s") x \(fmtSeconds(o)) launch overhead = \(t(l)), added to the total")
        }
        if let c = s.collectives, let link = gpu.interconnectBandwidth {
            lines.append("  collectives: a ring all-gather across n GPUs takes n - 1 steps, an all-reduce 2 (n - 1), each of \(t(gpu.interconnectLatency ?? 0)) plus a 1/n chunk at \(rate(link / 2 * GPUModel.interconnectEfficiency)) B/\(per) (half the \(rate(link)) B/\(per) link, both ways, x \(GPUModel.interconnectEfficiency)): \(group(Double(c.count))) took \(t(c.time)), added to the total")
        }
        if let l2 = s.l2, let line = Self.l2Line(l2, amount: fmtBytes) {
            lines.append("  L2 (\(fmtBytes(Int64(gpu.l2EffectiveBytes))) usable, write-back, least recently used out): \(line); HBM served \(fmtBytes(s.hbm.read_bytes)) of reads and \(fmtBytes(s.hbm.write_bytes)) of writes")
            lines.append("  Not modelled: L2 reuse across a block's own iterations, registers and occupancy (how many blocks an SM holds, the latency they hide), bank conflicts (docs/model.md).")
        } else {
            lines.append("  Not modelled: caches (every tile load is an HBM read), waves and launch overhead: the seed's model (docs/model.md).")
        }
        return lines.joined(separator: "\n")
    }

    /// One line per event with the SRAM bar, as the seed's verbose mode prints.
    public func eventLine(_ e: Event, capacity: Int64, gpu: GPUModel) -> String {
        let eb = Int64(gpu.elementBytes ?? 1)
        let unit = gpu.countsElements ? "el" : "B"
        let frac = Double(e.sramBytes) / Double(capacity)
        let what: String
        switch e.kind {
        case .load: what = "load    \(e.name) <- \(e.op) (\(e.rows) x \(e.cols))"
        case .store: what = "store   \(e.name) -> \(e.op) (\(e.rows) x \(e.cols))"
        case .compute: what = "\(e.op.padding(toLength: 8, withPad: " ", startingAt: 0))\(e.name) (\(e.rows) x \(e.cols)) \(group(Double(e.flops))) FLOPs"
        case .free: what = "free    \(e.name)"
        case .alloc: what = "alloc   \(e.name) in HBM \(fmtBytes(e.bytes))"
        case .overflow: what = "OVERFLOW by \(group(e.bytes / eb)) \(unit)"
        case .launch: what = "launch  \(e.name)"
        case .iteration: what = "loop    \(e.name) iteration \(e.rows + 1) of \(e.cols)"
        case .end: what = "end     \(e.name) at \(fmtTime(e.time, gpu.units))"
        case .collective: what = "\(e.op) \(e.name) (\(e.rows) x \(e.cols)) \(fmtBytes(e.bytes)) across GPUs in \(fmtTime(e.duration, gpu.units))"
        }
        return String(format: "%6lld ", e.seq) + e.loc.padding(toLength: 7, withPad: " ", startingAt: 0)
            + " \(bar(frac)) \(group(e.sramBytes / eb)) \(unit)  \(what)"
    }
}

/// What "bound" means for a run, where that needs saying: idle wave slots counted in its compute
/// time, and phases whose verdict differs from the whole run's. Run, roofline and report say
/// the same (`Bound` is the one definition: the larger of memory and compute time).
/// `idleWaves: false` leaves out the idle wave slots (for a report that gives them apart).
public func boundNotes(_ s: RunSummary, idleWaves: Bool = true) -> [String] {
    guard s.bound != .unknown else { return [] }
    var notes: [String] = []
    if idleWaves, let idle = s.time.wave_idle, idle > 0 {
        notes.append("compute time includes \(fmtTime(idle, s.time.unit)) of SMs idle in partial last waves")
    }
    // A compute time its blocks' loop steps set, not its FLOPs, says so: more work per step helps.
    if s.bound == .compute, let steps = s.time.block_steps, let n = s.counts.warp_steps, steps > 0, steps >= s.time.compute * (1 - 1e-9) {
        notes.append("the compute time is its thread blocks' steps (\(group(n)) warp-steps: block starts and loop iterations), not its FLOPs: larger tiles do more per step")
    }
    // Row kernels stream slower than a copy: say so where they hold most of the traffic.
    if s.bound == .memory, let n = s.counts.row_reduction_bytes, let extra = s.time.row_reductions, extra > 0, 2 * n > s.hbm.total_bytes {
        notes.append("most of its DRAM traffic is in row kernels, whose blocks reduce each row before they store it and stream slower than a copy (\(fmtTime(extra, s.time.unit)) of the memory time)")
    }
    let other: Bound = s.bound == .memory ? .compute : .memory
    let differing = s.phases.filter { $0.bound == other }
    if !differing.isEmpty && differing.count < s.phases.count {
        let lines = differing.prefix(4).map { "line \($0.line)" }.joined(separator: ", ") + (differing.count > 4 ? " and \(differing.count - 4) more" : "")
        notes.append("\(lines) \(differing.count == 1 ? "is" : "are") \(other.rawValue)-bound on \(differing.count == 1 ? "its" : "their") own")
    }
    return notes
}

/// 1234567 -> "1,234,567"; fractional values keep one decimal.
public func group(_ v: Double) -> String {
    let v = v.magnitude < 1e15 ? (v * 10).rounded() / 10 : v.rounded()
    let whole = v.rounded(.towardZero)
    let frac = v - whole
    var digits = String(format: "%.0f", abs(whole))
    var out = ""
    while digits.count > 3 { out = "," + digits.suffix(3) + out; digits = String(digits.dropLast(3)) }
    out = (v < 0 ? "-" : "") + digits + out
    if abs(frac) > 1e-9 { out += String(format: "%.1f", abs(frac)).dropFirst() }
    return out
}
public func group(_ v: Int64) -> String { group(Double(v)) }

/// A time in the preset's unit: grouped cycles for the seed's presets, seconds otherwise.
public func fmtTime(_ t: Double, _ unit: GPUModel.Units) -> String { unit == .cycles ? "\(group(t)) cycles" : fmtSeconds(t) }

/// An axis label in seconds with an engineering unit and three significant digits ("8.74 us").
public func engineeringSeconds(_ t: Double) -> String {
    if t == 0 { return "0" }
    let units: [(Double, String)] = [(1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")]
    let (scale, name) = units.first { t >= $0.0 } ?? (1e-12, "ps")
    return String(format: "%.3g %@", t / scale, name)
}

/// A progress bar on standard error, drawn only on a terminal and at most ten times a second.
/// Sweeps update it from worker threads, hence the lock.
public final class ProgressBar: @unchecked Sendable {
    let label: String
    let enabled: Bool
    var last = 0.0
    var drawn = false
    let lock = NSLock()

    public init(label: String, enabled: Bool) { self.label = label; self.enabled = enabled }

    public func update(_ fraction: Double) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSinceReferenceDate
        guard now - last >= 0.1 else { return }
        last = now
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(Int(fraction * 100))%".utf8))
        drawn = true
    }

    public func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

extension String {
    /// Right-aligned in a column of `width` characters (never truncated).
    public func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
