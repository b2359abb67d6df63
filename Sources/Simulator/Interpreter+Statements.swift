import Foundation
import KernLang

/// Execution semantics: what each statement does to the machine, the tallies and the values.
extension Interpreter {
    func execStmt(_ s: RStmt, _ f: Frame) throws(SimulationError) {
        try tick()
        switch s.kind {
        case .param(let slot, _, let e):
            if let v = f.overrides[slot] { f.values[slot] = v } else { f.values[slot] = try scalar(e, f) }
        case .tensor(let index, _, let name, let shapeExprs, let dtypeExpr, let valueExprs):
            guard case .dtype(let dtype) = try scalar(dtypeExpr, f) else { throw fail("expected a dtype", dtypeExpr.span) }
            var shape: [Int64] = []
            for e in shapeExprs {
                let n = try int(e, f, "a tensor dimension")
                if n <= 0 { throw fail("dimension \(shape.count) of '\(name)' must be positive, got \(n)", e.span) }
                shape.append(n)
            }
            if let caller = f.bound[index] {
                let t = tensors[caller]
                let fixed = f.views[index]?.count ?? 0
                let seen = Array(t.shape.dropFirst(fixed))
                if seen != shape {
                    guard seen.reduce(1, *) == shape.reduce(1, *) else {
                        let what = fixed == 0 ? fmtShape(t.shape) : "\(fmtShape(seen)) (a view of \(fmtShape(t.shape)))"
                        throw fail("tensor '\(t.name)' of shape \(what) is passed as '\(name)', declared \(fmtShape(shape)) with a different number of elements", s.span)
                    }
                    f.reshapes[index] = shape
                }
                f.tensors[index] = caller
                return
            }
            var elements: Int64 = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                if o || p > (Int64(1) << 62) / 8 { throw fail("'\(name)' \(fmtShape(shape)) has more elements than gpusim can count (2^59)", s.span) }
                elements = p
            }
            let bytes = cost.bytes(elements: elements, dtype)
            let newCurrent = hbmCurrent + bytes
            if let cap = gpu.hbmBytes, newCurrent > cap {
                throw fail("'\(name)' \(fmtShape(shape)) \(dtype.rawValue) needs \(fmtBytes(bytes)) of HBM\(hbmCurrent > 0 ? " with \(fmtBytes(hbmCurrent)) already allocated" : ""), more than \(gpu.name)'s \(fmtBytes(cap))", s.span)
            }
            tensors.append(Tensor(name: name, shape: shape, dtype: dtype, bytes: bytes))
            f.tensors[index] = tensors.count - 1
            if let numerics {
                guard case .tensor(_, let role, _, _, _, _) = s.kind else { break }
                var initial: [Double]?
                if let valueExprs {
                    let count = shape.reduce(1, *)
                    guard Int64(valueExprs.count) == count else {
                        throw fail("'\(name)' \(fmtShape(shape)) holds \(count) element\(count == 1 ? "" : "s"); its values list has \(valueExprs.count)", s.span)
                    }
                    initial = try valueExprs.map { e throws(SimulationError) in try number(e, f) }
                }
                do { try numerics.allocTensor(tensors.count - 1, name: name, shape: shape, dtype: dtype, role: role, initial: initial) }
                catch { throw fail(error.message, s.span) }
            }
            f.owned.append(tensors.count - 1)
            hbmCurrent = newCurrent
            summary.hbm.peak_bytes = Swift.max(summary.hbm.peak_bytes, hbmCurrent)
            if sink != nil {
                try emit(.alloc, op: "hbm", name: name, rows: shape.count > 1 ? shape[shape.count - 2] : 1, cols: shape.last!, bytes: bytes, flops: 0, duration: 0, s.span)
            } else {
                countEvent()
            }
        case .loop(let parallel, let slot, _, let domain, let body, let uniform):
            // The outermost parallel loop is a grid: its blocks run in waves over the SMs.
            let grid = parallel && parallelDepth == 0 && gpu.modelsWaves
            let gridStart = grid ? tally : nil
            if grid { gridBody = body; l2Grids = [:]; shareCache = [:] }
            let blocks = parallel && isInnermostParallel(s, body)
            let blockStep = !parallel && parallelDepth > 0
            // A numeric run hands the blocks of an outermost parallel loop to worker threads.
            let apart = parallel && parallelDepth == 0 && numerics?.runsBlocksConcurrently == true && blocksRunApart(s, loopSlot: slot, body, f)
            if parallel { parallelDepth += 1 }
            defer { if parallel { parallelDepth -= 1 } }
            switch domain {
            case .tiles(let extentE, let sizeE):
                let extent = try int(extentE, f, "the extent of tiles(EXTENT, SIZE)")
                let size = try int(sizeE, f, "the tile size")
                if size <= 0 { throw fail("tile size must be positive, got \(size)", sizeE.span) }
                if extent < 0 { throw fail("tile extent must not be negative, got \(extent)", extentE.span) }
                let full = extent / size
                try iterate(count: full + (extent % size == 0 ? 0 : 1), full: full, uniform: uniform, slot: slot, blocks: blocks, step: blockStep,
                            gridLevel: parallel && gpu.modelsWaves, apart: apart, body, f, s) { k in
                    let start = k * size
                    return .range(start, extent - start > size ? start + size : extent)
                }
            case .range(let fromE, let toE, let stepE):
                let from = try int(fromE, f, "a loop bound"), to = try int(toE, f, "a loop bound")
                let step = try stepE.map { e throws(SimulationError) in try int(e, f, "a loop step") } ?? 1
                if step <= 0 { throw fail("loop step must be positive, got \(step)", stepE!.span) }
                let count = to > from ? (to - from - 1) / step + 1 : 0
                try iterate(count: count, full: count, uniform: uniform, slot: slot, blocks: blocks, step: blockStep,
                            gridLevel: parallel && gpu.modelsWaves, apart: apart, body, f, s) { k in .int(from + k * step) }
            }
            if apart {
                do { try numerics?.join() } catch { throw fail(error.message, error.span ?? s.span) }
            }
            if let gridStart { endGrid(gridStart); leaveL2() }
        case .ifStmt(let c, let t, let e):
            if try bool(c, f) { try exec(t, f) } else if let e { try exec(e, f) }
        case .repeatLoop(let countE, let body):
            let n = try int(countE, f, "a repeat count")
            if n < 0 { throw fail("repeat count must not be negative, got \(n)", countE.span) }
            try iterate(count: n, full: n, uniform: Uniformity(uniform: true), slot: nil, step: parallelDepth > 0, body, f, s) { _ in .none }
        case .load(let slot, let name, let ref):
            let (t, rows, cols, dims) = try slice(ref, f)
            let bytes = cost.bytes(elements: rows * cols, t.dtype)
            let id = allocTile(rows: rows, cols: cols, dtype: t.dtype, name: name)
            if parallelDepth > 0 && blockLoopDepth > 0 { tiles[Int(id)].loadedFrom = f.tensors[ref.tensor]; tiles[Int(id)].loadedSlice = dims }
            numerics?.load(id, tensor: f.tensors[ref.tensor], shape: numericShape(ref.tensor, f), dims: dims)
            let dram = dramShare(bytes, s, ref, f)
            try countRead(bytes, tensor: f.tensors[ref.tensor], dram: dram)
            try bind(slot, id, f)
            if sink != nil {
                try emit(.load, op: t.name, name: name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: time.memory(bytes: dram), s.span, dram: dram)
            } else {
                countEvent()
            }
            try checkOverflow(s.span, name)
        case .gather(let slot, let name, let table, _, let indexE):
            let (idx, temp) = try tile(indexE, f)
            let it = tiles[Int(idx)]
            if it.rows != 1 && it.cols != 1 { throw fail("a gather index is a row or column of ids; got \(fmtTile(it))", indexE.span) }
            let t = tensors[f.tensors[table]]
            let rows = it.rows * it.cols, cols = t.shape[1]
            let bytes = cost.bytes(elements: rows * cols, t.dtype)
            let id = allocTile(rows: rows, cols: cols, dtype: t.dtype, name: name)
            try countRead(bytes, tensor: f.tensors[table])
            if let numerics {
                do { try numerics.gather(id, tensor: f.tensors[table], index: idx, cols: cols, at: indexE.span) } catch { throw fail(error.message, error.span ?? indexE.span) }
            }
            if temp { releaseTile(idx, s.span) }
            try bind(slot, id, f)
            if sink != nil {
                try emit(.load, op: t.name, name: name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: time.memory(bytes: bytes), s.span)
            } else {
                countEvent()
            }
            try checkOverflow(s.span, name)
        case .assign(let slot, let name, let e):
            if case .local(let src) = e.kind, case .tile(let id) = f.values[src] {
                // `X = Y` moves the tile: no copy, no traffic; Y is empty afterwards.
                if src == slot { return }
                f.values[src] = .none
                tiles[Int(id)].name = name
                try bind(slot, id, f)
                return
            }
            let (id, _) = try tile(e, f, name: name)
            tiles[Int(id)].name = name
            try bind(slot, id, f)
        case .update(let slot, let name, let op, let e):
            guard case .tile(let target) = f.values[slot] else { throw fail("'\(name)' has no tile here: it was freed or moved", s.span) }
            let t = tiles[Int(target)]
            let tileOp: TileOp = switch op { case .add: .add; case .sub: .sub; case .mul: .mul; case .div: .div; case .max: .max; case .min: .min }
            if e.isTile {
                let (id, temp) = try tile(e, f)
                let o = tiles[Int(id)]
                guard (o.rows == t.rows || o.rows == 1) && (o.cols == t.cols || o.cols == 1) else {
                    throw fail("cannot update \(fmtTile(t)) '\(name)' with \(fmtTile(o)) using '\(op.rawValue)'", s.span,
                               notes: [.init("the right-hand side must have the same shape, or be (rows x 1) or (1 x cols)")])
                }
                if !gpu.accumulatesInMMA(op, e, operand: o.dtype) {
                    try charge(tileOp, elements: t.rows * t.cols, name: name, rows: t.rows, cols: t.cols, s.span)
                }
                numerics?.update(tileOp, target: target, operand: .tile(id, rows: o.rows, cols: o.cols))
                if temp { releaseTile(id, s.span) }
            } else {
                let v = try number(e, f)
                try charge(tileOp, elements: t.rows * t.cols, name: name, rows: t.rows, cols: t.cols, s.span)
                numerics?.update(tileOp, target: target, operand: .scalar(v))
            }
        case .store(let e, let ref):
            let (id, temp) = try tile(e, f)
            let v = tiles[Int(id)]
            let (t, rows, cols, dims) = try slice(ref, f)
            if !(v.rows == rows && v.cols == cols) {
                throw fail("cannot store a \(fmtTile(v)) tile into \(ref.name)[...], a (\(rows) x \(cols)) slice", s.span)
            }
            let bytes = cost.bytes(elements: rows * cols, t.dtype)
            let dram = writeShare(bytes, f)
            try countWrite(bytes, tensor: f.tensors[ref.tensor], dram: dram)
            // A block's stores after its loop: the SM's math waits for them. A slice loaded, updated
            // and stored back inside the loop accumulates in global memory (across blocks: atomics),
            // a read-modify-write in L2 the math waits for too.
            if parallelDepth > 0 && blockLooped && blockLoopDepth == 0 { tally.epilogueBytes &+= bytes }
            if parallelDepth > 0 && blockLoopDepth > 0 && v.loadedFrom == f.tensors[ref.tensor] && v.loadedSlice == dims { tally.accumulationBytes &+= 2 &* bytes }
            numerics?.store(id, tensor: f.tensors[ref.tensor], shape: numericShape(ref.tensor, f), dims: dims)
            if sink != nil {
                try emit(.store, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: time.memory(bytes: dram), s.span, dram: dram)
            } else {
                countEvent()
            }
            if temp { releaseTile(id, s.span) }
        case .scatter(let e, let table, _, let indexE):
            // A read-modify-write of the addressed rows: every slot is counted, as a fixed-capacity
            // dispatch moves its padding too.
            let (id, temp) = try tile(e, f)
            let (idx, idxTemp) = try tile(indexE, f)
            let v = tiles[Int(id)], it = tiles[Int(idx)]
            if it.rows != 1 && it.cols != 1 { throw fail("a scatter index is a row or column of ids; got \(fmtTile(it))", indexE.span) }
            let t = tensors[f.tensors[table]]
            let rows = it.rows * it.cols, cols = t.shape[1]
            if !(v.rows == rows && v.cols == cols) {
                throw fail("cannot scatter a \(fmtTile(v)) tile by \(rows) ids into rows of \(t.name), which have \(cols) columns", s.span)
            }
            let bytes = cost.bytes(elements: rows * cols, t.dtype)
            try countRead(bytes, tensor: f.tensors[table])
            try charge(.add, elements: rows * cols, name: t.name, rows: rows, cols: cols, s.span)
            try countWrite(bytes, tensor: f.tensors[table])
            if let numerics {
                do { try numerics.scatter(id, tensor: f.tensors[table], index: idx, cols: cols, at: indexE.span) } catch { throw fail(error.message, error.span ?? indexE.span) }
            }
            if sink != nil {
                try emit(.load, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: time.memory(bytes: bytes), s.span)
                try emit(.store, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: time.memory(bytes: bytes), s.span)
            } else {
                countEvent(times: 2)
            }
            if idxTemp { releaseTile(idx, s.span) }
            if temp { releaseTile(id, s.span) }
        case .free(let slots):
            for slot in slots {
                guard case .tile = f.values[slot] else {
                    throw fail("'\(f.kernel.slotNames[slot])' has no tile to free: it was already freed or moved", s.span)
                }
                freeSlot(slot, f, s.span)
            }
        case .freeTensors(let locals, let names):
            for (local, name) in zip(locals, names) {
                let id = f.tensors[local]
                if let at = tensors[id].freedAt { throw fail("'\(name)' was already freed", s.span, notes: [.init("freed here", at: at)]) }
                releaseTensor(id)
                tensors[id].freedAt = s.span
                f.owned.removeAll { $0 == id }
                if sink != nil { try emit(.free, op: "hbm", name: name, rows: 0, cols: 0, bytes: tensors[id].bytes, flops: 0, duration: 0, s.span) } else { countEvent() }
            }
        case .collective(let op, let ref, let gpusE):
            let n = try int(gpusE, f, "the number of GPUs")
            if n < 1 { throw fail("\(op.rawValue) needs at least 1 GPU, got \(n)", gpusE.span) }
            if parallelDepth > 0 { throw fail("a collective runs between kernel launches, not inside a parallel loop", s.span) }
            // Any rank: a collective moves a whole tensor (or a 2-D slice of one), never a tile.
            let t: Tensor, rows: Int64, cols: Int64
            if ref.slices == nil {
                t = tensors[f.tensors[ref.tensor]]
                let shape = f.reshapes[ref.tensor] ?? Array(t.shape.dropFirst(f.views[ref.tensor]?.count ?? 0))
                (rows, cols) = (shape.dropLast().reduce(1, *), shape.last!)
            } else {
                (t, rows, cols, _) = try slice(ref, f)
            }
            guard n > 1 else { break }
            if numerics != nil {
                throw fail("a run with values computes one GPU's part; \(op.rawValue) across \(n) GPUs needs the others' (run it with 1 GPU)", gpusE.span)
            }
            guard gpu.interconnectBandwidth != nil else { throw fail("\(gpu.name) has no interconnect (interconnectBandwidth) for a collective across \(n) GPUs", s.span) }
            let bytes = cost.bytes(elements: rows * cols, t.dtype)
            let (dt, sent) = time.collective(op, bytes: bytes, gpus: n)
            tally.collectives &+= 1
            tally.collectiveBytes &+= sent
            tally.collectiveFemtoseconds &+= TimeModel.femtoseconds(dt)
            if sink != nil {
                try emit(.collective, op: op.rawValue, name: t.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: dt, s.span)
            } else {
                countEvent()
            }
        case .setting(.target, let c):
            let cc = try int(c, f, "the compute capability a kernel is built for")
            guard cc > 0 else { throw fail("'target' takes a compute capability times 10 (80 for sm_80, 90 for sm_90), got \(cc)", c.span) }
            f.builtFor = cc
        case .setting(.warps, let c):
            let w = try int(c, f, "the warps of a thread block")
            // 1024 threads is every GPU's limit per block.
            guard w >= 1 && w <= 32 else { throw fail("'warps' takes the warps of a thread block, 1 to 32 (32 threads each, at most 1024), got \(w)", c.span) }
            f.warps = w
        case .require(let c, let message):
            if try !bool(c, f) {
                throw fail("requirement failed: \(message)", c.span, notes: [.init("with \(describeParams(f))")])
            }
        case .launch(let k, let name, let params, let tensorArgs):
            let callee = program.kernels[k]
            var overrides: [Int: Value] = [:]
            for p in params { overrides[callee.params[p.slot].slot] = try scalar(p.value, f) }
            var bound: [Int: Int] = [:]
            var views: [Int: [Int64]] = [:]
            for (calleeIndex, callerIndex, indices) in tensorArgs {
                let calleeTensor = callee.tensors[calleeIndex].index
                let base = f.tensors[callerIndex]
                bound[calleeTensor] = base
                var fixed = f.views[callerIndex] ?? []
                for ix in indices {
                    let v = try int(ix, f, "a view index")
                    let size = tensors[base].shape[fixed.count]
                    if v < 0 || v >= size { throw fail("view index \(v) is out of bounds for dimension \(fixed.count) of '\(tensors[base].name)' (size \(size))", ix.span) }
                    fixed.append(v)
                }
                if !fixed.isEmpty { views[calleeTensor] = fixed }
            }
            tally.launches += 1
            if sink != nil { try emit(.launch, op: "kernel", name: name, rows: 0, cols: 0, bytes: 0, flops: 0, duration: 0, s.span) } else { countEvent() }
            let before = tally
            let launchStart = gpu.modelsLaunches && isGPUKernel(k) ? tally : nil
            if launchStart != nil { openLaunch = tally.work }
            let frame = Frame(kernel: callee, overrides: overrides, bound: bound)
            frame.views = views
            // Grid coordinates are the caller's loop slots: the callee's loads must not read them.
            let callerLevels = gridLevels
            gridLevels = []
            defer { gridLevels = callerLevels }
            try runKernel(frame, isEntry: false)
            tally.bump(.kernelLaunches, k, by: 1)
            for (v, field) in [(Tally.Vector.kernelRead, \Tally.readBytes), (.kernelWrite, \.writeBytes), (.kernelFlops, \.flops)] {
                tally.bump(v, k, by: tally[keyPath: field] - before[keyPath: field])
            }
            tally.bumpKernel(k, by: tally.cost - before.cost)
            if let launchStart {
                // A GPU kernel's own time: its compute and memory overlap within the launch only.
                let d = tally - launchStart
                let fs = TimeModel.femtoseconds(time.launch(d))
                tally.kernelFemtoseconds += fs
                tally.bump(.kernelFemtoseconds, k, by: fs)
                tally.launched = tally.launched + d.cost
                openLaunch = nil
            }
            // The launch ends: its span in a trace closes here, on the clock that now counts it.
            if sink != nil { try emit(.end, op: "kernel", name: name, rows: 0, cols: 0, bytes: 0, flops: 0, duration: 0, s.span) } else { countEvent() }
        }
    }

    /// Whether kernel `k` is a GPU kernel (it launches no others); memoised.
    func isGPUKernel(_ k: Int) -> Bool {
        if let v = gpuKernel[k] { return v }
        let v = !Self.launchesOthers(program.kernels[k].body)
        gpuKernel[k] = v
        return v
    }

    /// Whether a block launches other kernels (then it is not a GPU kernel itself).
    static func launchesOthers(_ b: RBlock) -> Bool {
        IRWalk.contains(b) { n in
            if case .stmt(let st) = n, case .launch = st.kind { return true }
            return false
        }
    }
}
