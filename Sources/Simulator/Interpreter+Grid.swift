import Foundation
import KernLang

/// What the body of a parallel loop does with state outside one block (see `blocksRunApart`).
struct BlockAccess {
    var independent = true
    /// Tensor locals the body loads or gathers from, and stores to.
    var read: Set<Int> = []
    var written: Set<Int> = []
}

/// Grids of thread blocks: waves over the SMs, their idle slots, and tiles shared through L2.
extension Interpreter {
    /// Ends a grid: B blocks ran in waves of (SMs x blocks per SM), blocks per SM from the
    /// SRAM one block used (at most 32, the resident-block limit of A100 and H100). The idle
    /// slots of the last wave are charged as compute the grid could have done in them.
    func endGrid(_ start: Tally, sramBase: Int64) {
        let b = tally.blocks - start.blocks
        guard b > 0 else { return }
        let perSM = Swift.min(32, Swift.max(1, gpu.sramBytes / Swift.max(1, gridPeak - sramBase)))
        let wave = Int64(Swift.max(1, gpu.sms)) * perSM
        let spare = (b + wave - 1) / wave * wave - b
        guard spare > 0 else { return }
        let tc = tally.tensorCoreFlops - start.tensorCoreFlops, vec = tally.flops - start.flops - tc
        func share(_ x: Int64) -> Int64 {
            let (p, o) = x.multipliedReportingOverflow(by: spare)
            return o ? Int64((Double(x) * Double(spare) / Double(b)).rounded()) : p / b
        }
        tally.idleTensorCoreFlops &+= share(tc)
        tally.idleVectorFlops &+= share(vec)
    }

    func isInnermostParallel(_ s: RStmt, _ body: RBlock) -> Bool {
        let key = s.span.start ^ (ObjectIdentifier(s.span.file).hashValue << 20)
        if let v = innermostParallel[key] { return v }
        let v = !IRWalk.contains(body) { n in
            if case .stmt(let st) = n, case .loop(parallel: true, _, _, _, _, _) = st.kind { return true }
            return false
        }
        innermostParallel[key] = v
        return v
    }

    /// Whether the blocks of a numeric run's parallel loop can run on separate threads with the
    /// values of a run on one: no block launches a kernel, scatters (a read-modify-write of
    /// rows that data chooses), writes or frees a tile from outside the loop, or stores to a
    /// tensor the loop also reads (checked for the tensors bound now).
    func blocksRunApart(_ s: RStmt, loopSlot: Int, _ body: RBlock, _ f: Frame) -> Bool {
        let key = s.span.start ^ (ObjectIdentifier(s.span.file).hashValue << 20)
        let shape: BlockAccess
        if let known = blockAccess[key] { shape = known } else {
            var a = BlockAccess()
            IRWalk.inspect(body) { n in
                guard case .stmt(let st) = n else { return true }
                if st.freeAfter.contains(where: { $0 < loopSlot }) { a.independent = false }
                switch st.kind {
                case .launch, .scatter, .param: a.independent = false
                case .load(let slot, _, let ref):
                    a.read.insert(ref.tensor)
                    if slot < loopSlot { a.independent = false }
                case .gather(let slot, _, let table, _, _):
                    a.read.insert(table)
                    if slot < loopSlot { a.independent = false }
                case .assign(let slot, _, let e):
                    if slot < loopSlot { a.independent = false }
                    if case .local(let src) = e.kind, src < loopSlot { a.independent = false }
                case .update(let slot, _, _, _):
                    if slot < loopSlot { a.independent = false }
                case .free(let slots):
                    if slots.contains(where: { $0 < loopSlot }) { a.independent = false }
                case .store(_, let ref): a.written.insert(ref.tensor)
                default: break
                }
                return true
            }
            blockAccess[key] = a
            shape = a
        }
        guard shape.independent else { return false }
        let written = Set(shape.written.map { f.tensors[$0] })
        return !shape.read.contains { written.contains(f.tensors[$0]) }
    }

    /// The grid levels (bit i: level i of `gridLevels`) a tensor slice's position depends on.
    func gridDims(_ slices: [RSlice]?) -> UInt64 {
        var used: UInt64 = 0
        for slice in slices ?? [] {
            let exprs: [RExpr] = switch slice { case .all: []; case .index(let e): [e]; case .range(let a, let b): [a, b] }
            for e in exprs {
                IRWalk.inspect(e) { n in
                    if case .expr(let x) = n, case .local(let slot) = x.kind, let level = gridLevels.firstIndex(where: { $0.slot == slot }) { used |= 1 << level }
                    return true
                }
            }
        }
        return used
    }

    /// The L2 of the current grid as seen at the depth of its parallel nest entered so far: every
    /// tensor its body names (a view counts its own part of the tensor), with the grid levels its
    /// slices depend on (data-dependent rows of gathers and scatters: all of them).
    func l2Grid(_ f: Frame) -> L2Grid? {
        guard gpu.modelsL2, !gridLevels.isEmpty, let body = gridBody else { return nil }
        if let g = l2Grids[gridLevels.count] { return g }
        var byTensor: [Int: L2Grid.Tensor] = [:]
        let all: UInt64 = gridLevels.count >= 64 ? .max : (1 << gridLevels.count) - 1
        func add(_ local: Int, _ dims: UInt64) {
            let id = f.tensors[local], t = tensors[id]
            var bytes = t.bytes
            if let fixed = f.views[local]?.count, fixed > 0 { bytes /= Swift.max(1, t.shape.prefix(fixed).reduce(1, *)) }
            byTensor[id, default: .init(id: id, bytes: bytes, dims: 0, carried: l2Carried[id] ?? 0)].dims |= dims
        }
        IRWalk.inspect(body) { n in
            guard case .stmt(let st) = n else { return true }
            switch st.kind {
            case .load(_, _, let ref), .store(_, let ref): add(ref.tensor, gridDims(ref.slices))
            case .gather(_, _, let table, _, _), .scatter(_, let table, _, _): add(table, all)
            default: break
            }
            return true
        }
        let g = L2Grid(levels: gridLevels.map(\.count), wave: Int64(Swift.max(1, gpu.sms)), capacity: gpu.l2EffectiveBytes,
                       tensors: byTensor.values.sorted { $0.id < $1.id })
        l2Grids[gridLevels.count] = g
        return g
    }

    /// The HBM bytes of a load inside a grid: its share of the L2 misses (see `L2Grid.readShare`).
    /// Blocks of one wave that load a tile at the same step fetch it once; later blocks find it
    /// in L2 while what ran in between fits there. Outside grids every load reads HBM.
    func dramShare(_ bytes: Int64, _ s: RStmt, _ ref: RTensorRef, _ f: Frame) -> Int64 {
        guard bytes > 0 else { return bytes }
        // The share is worked out once per load statement and grid depth; later loads look it up.
        let key = s.span.start &* 31 &+ gridLevels.count
        if let share = shareCache[key] { return Int64((Double(bytes) * share).rounded()) }
        guard let grid = l2Grid(f) else { return bytes }
        let id = f.tensors[ref.tensor]
        let share = grid.readShare(gridDims(ref.slices), carried: grid.tensors.first { $0.id == id }?.carried ?? 0)
        shareCache[key] = share
        return Int64((Double(bytes) * share).rounded())
    }

    /// The HBM bytes a store inside a grid writes while the grid runs: L2 is write-back, and
    /// under `--cache flush` what the last blocks stored is still dirty in it when the launch
    /// ends (written back before the next launch, outside this one's counters). Under `--cache
    /// warm` every stored byte is written back by the end of the run.
    func writeShare(_ bytes: Int64, _ f: Frame) -> Int64 {
        guard options.cache == .flush, bytes > 0, let grid = l2Grid(f) else { return bytes }
        return Int64((Double(bytes) * grid.writeShare).rounded())
    }

    /// At the end of a grid, what it leaves in L2 for the next launch (`--cache warm`).
    func leaveL2() {
        defer { gridBody = nil; l2Grids = [:]; shareCache = [:] }
        guard options.cache == .warm, let deepest = l2Grids.keys.max(), let g = l2Grids[deepest] else { return }
        var sizes: [Int: Int64] = [:]
        for id in l2Carried.keys { sizes[id] = tensors[id].bytes }
        l2Carried = g.leftBehind(after: l2Carried, sizes: sizes)
    }
}
