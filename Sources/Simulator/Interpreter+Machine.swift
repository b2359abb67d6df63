import Foundation
import KernLang

/// The machine: SRAM tiles, HBM tensors, and the counters every byte and FLOP goes through.
extension Interpreter {
    func bind(_ slot: Int, _ id: Int32, _ f: Frame) throws(SimulationError) {
        if case .tile(let old) = f.values[slot], old != id { releaseTile(old, nil) }
        f.values[slot] = .tile(id)
    }

    func allocTile(rows: Int64, cols: Int64, dtype: DType, name: String) -> Int32 {
        let t = Tile(rows: rows, cols: cols, dtype: dtype, bytes: cost.bytes(elements: rows * cols, dtype), name: name, live: true)
        sramCurrent += t.bytes
        if sramCurrent > summary.sram.peak_bytes { summary.sram.peak_bytes = sramCurrent }
        if let id = freeTiles.popLast() { tiles[Int(id)] = t; return id }
        tiles.append(t)
        return Int32(tiles.count - 1)
    }

    func checkOverflow(_ span: Span, _ name: String) throws(SimulationError) {
        guard sramCurrent > gpu.sramBytes else { return }
        let over = sramCurrent - gpu.sramBytes
        tally.overflows += 1
        summary.sram.max_overflow_bytes = Swift.max(summary.sram.max_overflow_bytes, over)
        if summary.sram.first_overflow == nil { summary.sram.first_overflow = span.description }
        if sink != nil { try emit(.overflow, op: "sram", name: name, rows: 0, cols: 0, bytes: over, flops: 0, duration: 0, span) } else { countEvent() }
    }

    func releaseTile(_ id: Int32, _ span: Span?) {
        let t = tiles[Int(id)]
        guard t.live else { return }
        tiles[Int(id)].live = false
        sramCurrent -= t.bytes
        numerics?.free(id)
        freeTiles.append(id)
        if let span { if sink != nil { try? emit(.free, op: "sram", name: t.name, rows: t.rows, cols: t.cols, bytes: t.bytes, flops: 0, duration: 0, span) } else { countEvent() } }
    }

    func freeSlot(_ slot: Int, _ f: Frame, _ span: Span?) {
        guard case .tile(let id) = f.values[slot] else { return }
        f.values[slot] = .none
        releaseTile(id, span ?? f.kernel.span)
    }

    func releaseTensor(_ id: Int) {
        hbmCurrent -= tensors[id].bytes
    }

    /// Counts a read of `bytes` that the SMs request, of which `dram` come from HBM (the rest
    /// are L2 hits).
    func countRead(_ bytes: Int64, tensor: Int, dram: Int64? = nil) throws(SimulationError) {
        let fromHBM = dram ?? bytes
        let (v, o) = tally.readBytes.addingReportingOverflow(fromHBM)
        if o { throw .input("HBM read bytes overflowed a 64-bit counter") }
        tally.readBytes = v
        tally.l2ReadBytes &+= bytes
        tally.loads += 1
        tally.bump(.tensorRead, tensor, by: fromHBM)
    }

    /// Counts a write of `bytes` the SMs make, of which `dram` reach HBM during the launch (the
    /// rest is still dirty in L2 when it ends).
    func countWrite(_ bytes: Int64, tensor: Int, dram: Int64? = nil) throws(SimulationError) {
        let toHBM = dram ?? bytes
        let (v, o) = tally.writeBytes.addingReportingOverflow(toHBM)
        if o { throw .input("HBM write bytes overflowed a 64-bit counter") }
        tally.writeBytes = v
        tally.l2WriteBytes &+= bytes
        tally.stores += 1
        tally.bump(.tensorWrite, tensor, by: toHBM)
    }

    /// Charges an elementwise/reduction op's FLOPs and time (no allocation).
    func charge(_ op: TileOp, elements: Int64, name: String, rows: Int64, cols: Int64, _ span: Span) throws(SimulationError) {
        let flops = cost.flops(op, elements: elements)
        if flops == .max { throw fail("FLOP count overflowed a 64-bit counter", span) }
        try tally.addFlops(flops, special: op.isSpecial)
        let sfu = elements &* op.sfuOpsPerElement
        tally.sfuOps &+= sfu
        tally.computes += 1
        if op.reducesRows && parallelDepth > 0 { blockReducedRows = true }
        let dt = time.compute(flops: flops, tensorCore: 0, special: op.isSpecial ? flops : 0, sfuOps: sfu)
        if sink != nil { try emit(.compute, op: op.key, name: name, rows: rows, cols: cols, bytes: 0, flops: flops, duration: dt, span) } else { countEvent() }
    }


    /// The shape slices of a local tensor are laid out in: the underlying tensor's, or, for a
    /// reshaped binding, its fixed leading dimensions followed by the declared shape.
    func numericShape(_ local: Int, _ f: Frame) -> [Int64] {
        let t = tensors[f.tensors[local]]
        guard let r = f.reshapes[local] else { return t.shape }
        return Array(t.shape.prefix(f.views[local]?.count ?? 0)) + r
    }
}
