import Foundation
import KernLang

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

    /// The HBM bytes of a load inside a grid. The blocks of a wave (one per SM) run in step, so a
    /// tile that several of them load at the same step comes from HBM once and from L2 for the
    /// rest: a wave fetches a load once per distinct value of the grid coordinates its slice
    /// depends on (GEMM: X[i, k] once per block row, W[k, j] once per block column; attention:
    /// K and V tiles once per head). Nothing stays in L2 across a block's own iterations or
    /// across waves, so private re-reads (FlashAttention's Q and O) still go to HBM.
    func dramShare(_ bytes: Int64, _ s: RStmt, _ ref: RTensorRef) -> Int64 {
        guard !gridLevels.isEmpty, gpu.l2Bytes > 0, bytes > 0 else { return bytes }
        let key = s.span.start &* 31 &+ gridLevels.count
        let share: (fetches: Int64, blocks: Int64)
        if let c = shareCache[key] { share = c } else {
            // The grid coordinates the slice's position depends on.
            var used = Set<Int>()
            for slice in ref.slices ?? [] {
                let exprs: [RExpr] = switch slice { case .all: []; case .index(let e): [e]; case .range(let a, let b): [a, b] }
                for e in exprs {
                    IRWalk.inspect(e) { n in
                        if case .expr(let x) = n, case .local(let slot) = x.kind, let level = gridLevels.firstIndex(where: { $0.slot == slot }) { used.insert(level) }
                        return true
                    }
                }
            }
            share = Self.waveFetches(levels: gridLevels.map(\.count), dims: used, wave: Int64(Swift.max(1, gpu.sms)))
            shareCache[key] = share
        }
        guard share.blocks > 0, share.fetches < share.blocks else { return bytes }
        let (p, o) = bytes.multipliedReportingOverflow(by: share.fetches)
        return o ? Int64((Double(bytes) * Double(share.fetches) / Double(share.blocks)).rounded()) : p / share.blocks
    }

    /// Over the waves of a grid (blocks in row-major order of `levels`, `wave` at a time), the
    /// number of distinct block coordinates on `dims` summed over waves, and the block count.
    static func waveFetches(levels c: [Int64], dims: Set<Int>, wave: Int64) -> (fetches: Int64, blocks: Int64) {
        let n = c.count
        var b: Int64 = 1
        for x in c { let (p, o) = b.multipliedReportingOverflow(by: x); if o { return (1, 1) }; b = p }
        guard b > 0 else { return (0, 0) }
        if dims.count == n { return (b, b) }
        let sorted = dims.sorted()
        let suffix = sorted == Array((n - dims.count)..<n), prefix = sorted == Array(0..<dims.count)
        var span: Int64 = 1   // distinct coordinates on dims
        for d in dims { span *= c[d] }
        var inner: Int64 = 1  // blocks per step of the last dim in a prefix
        for d in dims.count..<n { inner *= c[d] }
        var fetches: Int64 = 0, s: Int64 = 0
        while s < b {
            let e = Swift.min(b, s + wave)
            if dims.isEmpty { fetches += 1 }
            else if suffix { fetches += Swift.min(e - s, span) }
            else if prefix { fetches += (e - 1) / inner - s / inner + 1 }
            else { fetches += Swift.min(e - s, span) }   // other shapes: at most one per coordinate
            s = e
        }
        return (fetches, b)
    }
}
