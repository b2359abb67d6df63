import Foundation
import KernLang

/// Summary building: phases as the entry kernel runs, totals and per-kernel figures at the end.
extension Interpreter {
    /// Runs the entry kernel's body recording a phase per top-level loop nest, repeat or launch
    /// (consecutive other statements form one phase), for per-phase rooflines and breakdowns.
    func execPhases(_ f: Frame) throws(SimulationError) {
        let body = f.kernel.body
        var pending: (label: String, line: Int, start: Tally)?
        func close() {
            guard let p = pending else { return }
            pending = nil
            addPhase(p.label, p.line, tally - p.start)
        }
        for s in body.stmts {
            let line = s.span.line
            switch s.kind {
            case .loop, .repeatLoop, .launch:
                close()
                let start = tally
                // A top-level grid of an entry that is a GPU kernel itself is one launch of its own.
                var grid = false
                if case .loop(parallel: true, _, _, _, _, _) = s.kind, entryLaunches == 1 { grid = true }
                inGrid = grid
                try execStmt(s, f)
                inGrid = false
                if grid { grids.close(at: tally.work, time) }
                addPhase(Self.header(s.span), line, tally - start, grid: grid)
            case .param, .tensor, .require, .free:
                try execStmt(s, f)
            default:
                if pending == nil { pending = (Self.header(s.span), line, tally) }
                else if let p = pending { pending = ("lines \(p.line)-\(line)", p.line, p.start) }
                try execStmt(s, f)
            }
            for slot in s.freeAfter { freeSlot(slot, f, s.span) }
        }
        close()
        for slot in body.locals { freeSlot(slot, f, nil) }
    }

    static func header(_ span: Span) -> String {
        let text = span.file.text(span).split(separator: "\n").first.map(String.init) ?? ""
        return text.replacingOccurrences(of: "{", with: "").trimmingCharacters(in: .whitespaces)
    }

    func addPhase(_ label: String, _ line: Int, _ d: Tally, grid: Bool = false) {
        guard d.loads + d.stores + d.computes > 0 else { return }
        let compute = time.compute(d), memory = time.memory(d)
        let launches = d.launches + (grid ? 1 : 0)
        summary.phases.append(RunSummary.Phase(
            label: label, line: line, read_bytes: d.readBytes, write_bytes: d.writeBytes, flops: d.flops,
            tensor_core_flops: d.tensorCoreFlops, time_compute: compute, time_memory: memory,
            time_total: time.stretch(d) + time.launches(d.launches) + time.collectives(d.work),
            bound: Bound(compute: compute, memory: memory),
            l2_bytes: gpu.modelsL2 ? d.l2ReadBytes + d.l2WriteBytes : nil,
            launches: gpu.modelsLaunches && launches > 0 ? launches : nil,
            launch_gaps: gpu.modelsLaunches && d.launches > 0 ? time.launches(d.launches) : nil))
    }

    func finish() throws(SimulationError) {
        let computeTime = time.compute(tally), memoryTime = time.memory(tally)
        summary.hbm.read_bytes = tally.readBytes
        summary.hbm.write_bytes = tally.writeBytes
        summary.flops = .init(total: tally.flops, matmul: tally.matmulFlops, tensor_core: tally.tensorCoreFlops,
                              mma_sync: gpu.warpMatmulFlops != nil ? tally.warpTensorCoreFlops : nil, elementwise: tally.elementwiseFlops, special: tally.specialFlops)
        summary.counts.loads = tally.loads
        summary.counts.stores = tally.stores
        summary.counts.computes = tally.computes
        summary.counts.launches = tally.launches
        summary.sram.overflow_count = tally.overflows
        summary.sram.overflow = tally.overflows > 0
        for (id, t) in tensors.enumerated() {
            let r = tally.value(.tensorRead, id), w = tally.value(.tensorWrite, id)
            guard r + w > 0 else { continue }
            summary.tensors[t.name, default: .init()].read_bytes += r
            summary.tensors[t.name, default: .init()].write_bytes += w
        }
        for (k, kernel) in program.kernels.enumerated() where tally.value(.kernelLaunches, k) > 0 {
            let fl = tally.value(.kernelFlops, k)
            let rb = tally.value(.kernelRead, k), wb = tally.value(.kernelWrite, k), n = tally.value(.kernelLaunches, k)
            // Timed by the same rules as a launch.
            let cost = tally.kernelCost(k)
            let c = time.compute(cost), m = time.memory(cost)
            let own = gpu.modelsLaunches && isGPUKernel(k) ? Double(tally.value(.kernelFemtoseconds, k)) / 1e15 : gpu.compose(compute: c, memory: m)
            summary.kernels[kernel.name] = .init(launches: n, read_bytes: rb, write_bytes: wb, flops: fl,
                                                 time_total: own + time.launches(n), bound: Bound(compute: c, memory: m))
        }
        summary.time.compute = computeTime
        summary.time.memory = memoryTime
        let launches = time.launches(tally.launches + entryLaunches)
        let kernel = time.run(tally, entryIsGPUKernel: entryLaunches == 1, grids: grids)
        summary.time.total = kernel + launches + time.collectives(tally.work)
        if tally.collectives > 0 {
            summary.time.collective = time.collectives(tally.work)
            summary.collectives = .init(count: tally.collectives, sent_bytes: tally.collectiveBytes, time: time.collectives(tally.work))
        }
        if gpu.modelsLaunches {
            summary.time.launch_gaps = launches
            summary.time.kernel = kernel
        }
        if gpu.modelsL2 {
            // Every store passes through L2 (write-back), so L2 traffic is requested reads plus writes.
            summary.l2 = .init(read_bytes: tally.l2ReadBytes, hit_bytes: tally.l2ReadBytes - tally.readBytes,
                               write_bytes: tally.l2WriteBytes, dirty_bytes: tally.l2WriteBytes - tally.writeBytes,
                               bytes: tally.l2ReadBytes + tally.l2WriteBytes, cache: options.cache)
        }
        if gpu.modelsWaves {
            summary.time.wave_idle = time.compute(flops: tally.idleTensorCoreFlops + tally.idleVectorFlops, tensorCore: tally.idleTensorCoreFlops, warp: tally.idleWarpTensorCoreFlops)
            summary.counts.blocks = tally.blocks
        }
        if gpu.warpStepTime != nil {
            summary.counts.warp_steps = tally.effectiveWarpSteps
            summary.time.block_steps = time.steps(tally.effectiveWarpSteps)
        }
        if gpu.rowReductionEfficiency != nil {
            summary.counts.row_reduction_bytes = tally.rowReductionBytes
            summary.time.row_reductions = time.memory(bytes: tally.rowReductionBytes, rowReductionBytes: tally.rowReductionBytes) - time.memory(bytes: tally.rowReductionBytes)
        }
        if gpu.modelsEpilogues {
            summary.counts.epilogue_bytes = tally.effectiveEpilogueBytes
            summary.time.block_epilogues = time.l2Wait(tally.effectiveEpilogueBytes)
            summary.counts.accumulation_bytes = tally.effectiveAccumulationBytes
            summary.time.global_accumulations = time.l2Wait(tally.effectiveAccumulationBytes)
        }
        summary.bound = Bound(compute: computeTime, memory: memoryTime)
        if let e = gpu.elementBytes {
            summary.hbm.read_elements = summary.hbm.read_bytes / Int64(e)
            summary.hbm.write_elements = summary.hbm.write_bytes / Int64(e)
            summary.sram.peak_elements = summary.sram.peak_bytes / Int64(e)
        }
        let k = program.entryKernel
        try emit(.end, op: "run", name: k.name, rows: 0, cols: 0, bytes: 0, flops: 0, duration: 0, k.span, at: summary.time.total)
        summary.counts.events = tally.events
    }
}
