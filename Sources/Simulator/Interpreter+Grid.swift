import Foundation
import KernLang

/// What the body of a parallel loop does with state outside one block (see `blocksRunApart`).
struct BlockAccess {
    var independent = true
    /// Tensor locals the body loads or gathers from, and stores to.
    var read: Set<Int> = []
    var written: Set<Int> = []
}

/// Grids of thread blocks: rounds over the SMs, their idle slots, and tiles shared through L2.
extension Interpreter {
    /// Ends a grid: its B blocks spread over the SMs, and the blocks resident on one SM share
    /// its throughput, so the grid takes as long as the SM given ceil(B / SMs) blocks: the
    /// spare slots of that last round are charged as compute the grid could have done in them.
    /// (How many blocks fit on an SM at once does not change this: a grid of 32 blocks on 108
    /// SMs leaves 76 SMs idle however small its blocks are.)
    func endGrid(_ start: Tally) {
        let b = tally.blocks - start.blocks
        guard b > 0 else { return }
        let round = Int64(Swift.max(1, gpu.sms))
        let spare = (b + round - 1) / round * round - b
        guard spare > 0 else { return }
        let tc = tally.tensorCoreFlops - start.tensorCoreFlops, vec = tally.flops - start.flops - tc
        func share(_ x: Int64) -> Int64 {
            let (p, o) = x.multipliedReportingOverflow(by: spare)
            return o ? Int64((Double(x) * Double(spare) / Double(b)).rounded()) : p / b
        }
        tally.idleTensorCoreFlops &+= share(tc)
        tally.idleWarpTensorCoreFlops &+= share(tally.warpTensorCoreFlops - start.warpTensorCoreFlops)
        tally.idleVectorFlops &+= share(vec)
        tally.idleWarpSteps &+= share(tally.warpSteps - start.warpSteps)
        tally.idleEpilogueBytes &+= share(tally.epilogueBytes - start.epilogueBytes)
        tally.idleAccumulationBytes &+= share(tally.accumulationBytes - start.accumulationBytes)
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

    /// The grid levels a tensor slice's position depends on, as bits of the L2 model's levels:
    /// a level split by `c` (`l2Splits`, from `findSplits`) has two bits, an outer one, all a
    /// slice that uses only `level // c` depends on, and an inner one.
    func gridDims(_ slices: [RSlice]?, _ f: Frame) -> UInt64 {
        var used: UInt64 = 0
        for slice in slices ?? [] {
            let exprs: [RExpr] = switch slice { case .all: []; case .index(let e): [e]; case .range(let a, let b): [a, b] }
            for e in exprs {
                IRWalk.inspect(e) { n in
                    guard case .expr(let x) = n else { return true }
                    if let level = dividedLevel(x, f) { used |= 1 << l2Bit(level); return false }
                    if case .local(let slot) = x.kind, let level = gridLevels.firstIndex(where: { $0.slot == slot }) {
                        used |= 1 << l2Bit(level)
                        if l2Splits[level] != nil { used |= 1 << (l2Bit(level) + 1) }
                    }
                    return true
                }
            }
        }
        return used
    }

    /// `level // c` for a grid level split by c: the level, else nil.
    func dividedLevel(_ x: RExpr, _ f: Frame) -> Int? {
        guard case .binary(.floorDiv, let a, let b) = x.kind, case .local(let slot) = a.kind,
              let level = gridLevels.firstIndex(where: { $0.slot == slot }), let c = l2Splits[level] else { return nil }
        do { return try int(b, f, "a divisor") == c ? level : nil } catch { return nil }
    }

    /// The first bit of grid level `level` among the L2 model's levels (split levels take two).
    func l2Bit(_ level: Int) -> Int { level + l2Splits.keys.filter { $0 < level }.count }

    /// Grid levels some slice uses divided, `h // c` with c dividing the level's count (the query
    /// heads of a key/value group): c consecutive coordinates name the same slice, so for L2
    /// the level is two, h // c (outer) and h % c (inner), in the same raster order. A level
    /// divided by two different numbers is not split (each use then depends on all of it).
    func findSplits(_ body: RBlock, _ f: Frame) -> [Int: Int64] {
        var found: [Int: Int64] = [:], mixed: Set<Int> = []
        IRWalk.inspect(body) { n in
            guard case .expr(let x) = n, case .binary(.floorDiv, let a, let b) = x.kind, case .local(let slot) = a.kind,
                  let level = gridLevels.firstIndex(where: { $0.slot == slot }) else { return true }
            guard let c = try? int(b, f, "a divisor"), c > 1, gridLevels[level].count % c == 0 else { return true }
            if let known = found[level], known != c { mixed.insert(level) }
            found[level] = found[level] ?? c
            return true
        }
        for level in mixed { found[level] = nil }
        return found
    }

    /// The L2 of the current grid as seen at the depth of its parallel nest entered so far: every
    /// tensor its body names (a view counts its own part of the tensor), with the grid levels its
    /// slices depend on (data-dependent rows of gathers and scatters: all of them).
    func l2Grid(_ f: Frame) -> L2Grid? {
        guard gpu.modelsL2, !gridLevels.isEmpty, let body = gridBody else { return nil }
        if let g = l2Grids[gridLevels.count] { return g }
        l2Splits = findSplits(body, f)
        var levels: [Int64] = []
        for (l, level) in gridLevels.enumerated() {
            if let c = l2Splits[l] { levels += [level.count / c, c] } else { levels.append(level.count) }
        }
        var byTensor: [Int: L2Grid.Tensor] = [:]
        let all: UInt64 = levels.count >= 64 ? .max : (1 << levels.count) - 1
        func add(_ local: Int, _ dims: UInt64) {
            let id = f.tensors[local], t = tensors[id]
            var bytes = t.bytes
            if let fixed = f.views[local]?.count, fixed > 0 { bytes /= Swift.max(1, t.shape.prefix(fixed).reduce(1, *)) }
            byTensor[id, default: .init(id: id, bytes: bytes, dims: 0, carried: l2Carried[id] ?? 0)].dims |= dims
        }
        IRWalk.inspect(body) { n in
            guard case .stmt(let st) = n else { return true }
            switch st.kind {
            case .load(_, _, let ref), .store(_, let ref): add(ref.tensor, gridDims(ref.slices, f))
            case .gather(_, _, let table, _, _), .scatter(_, let table, _, _): add(table, all)
            default: break
            }
            return true
        }
        let g = L2Grid(levels: levels, wave: Int64(Swift.max(1, gpu.sms)), capacity: gpu.l2EffectiveBytes,
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
        let share = grid.readShare(gridDims(ref.slices, f), carried: grid.tensors.first { $0.id == id }?.carried ?? 0)
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
