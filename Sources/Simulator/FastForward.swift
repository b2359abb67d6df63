import Foundation
import KernLang

/// Loops, and the fast-forward of identical iterations (record one, replay or add its tally).
extension Interpreter {
    /// Runs `count` iterations, the first `full` of which are alike (the rest is a ragged tile).
    /// Fast-forward: when the loop is uniform and the second iteration leaves the machine in the
    /// state it found it (the same tiles bound, the same occupancy), every later full iteration
    /// would repeat it exactly, so its counter difference is added for each skipped one. The last
    /// full iteration still runs, so bounds checks see the largest start.
    /// `apart`: each iteration is a block a numeric run hands to a worker thread.
    func iterate(count: Int64, full: Int64, uniform: Bool, slot: Int?, blocks: Bool = false, gridLevel: Bool = false, apart: Bool = false,
                 _ body: RBlock, _ f: Frame, _ loop: RStmt, value: (Int64) -> Value) throws(SimulationError) {
        var k: Int64 = 0
        if gridLevel, let slot { gridLevels.append((slot, count)) }
        defer { if gridLevel && slot != nil { gridLevels.removeLast() } }
        let name = slot.map { f.kernel.slotNames[$0] } ?? "repeat"
        loopDepth += 1
        defer { loopDepth -= 1 }
        func one(_ k: Int64) throws(SimulationError) {
            if loopDepth == 1, let progress { progress(Double(k) / Double(max(count, 1))) }
            if let slot { f.values[slot] = value(k) }
            if sink != nil { try emit(.iteration, op: "loop", name: name, rows: k, cols: count, bytes: 0, flops: 0, duration: 0, loop.span) } else { countEvent() }
            if blocks { tally.blocks += 1 }
            if apart { numerics?.beginBlock() }
            try exec(body, f)
            if apart { numerics?.endBlock() }
        }
        if uniform && fastForward && numerics == nil && full >= 4 {
            try one(0)
            let before = stateSignature(f), t0 = tally
            // With an event sink, record the second iteration's events to replay for the skipped ones.
            let outer = recording
            if sink != nil { recording = [] }
            try one(1)
            var recorded = recording ?? []
            recording = outer.map { $0 + recorded }
            if stateSignature(f) == before {
                let delta = tally - t0
                if sink != nil {
                    for skipped in 2..<(full - 1) { try replay(&recorded, iteration: skipped, from: t0) ; try tally.add(delta, times: 1) }
                } else {
                    try tally.add(delta, times: full - 3)
                }
                try one(full - 1)
                k = full
            } else {
                k = 2
            }
        }
        while k < count { try one(k); k += 1 }
        if let slot { f.values[slot] = .none }
    }

    /// Whether a loop's full iterations cost alike, its guards decided now (see `Uniformity`).
    func alike(_ u: Uniformity, _ f: Frame, slot: Int) -> Bool {
        u.uniform && u.guards.allSatisfy { loopInvariant($0, f, slot: slot) != nil }
    }

    /// The value condition `c` has in every iteration of the loop over `slot`, when what is
    /// known now decides it (`causal == 0 || j.start < i.end` with causal = 0: true); nil when
    /// it may vary. Evaluating reads no counters; a part that names a variable not bound yet
    /// (an inner loop's) fails to evaluate and counts as unknown.
    func loopInvariant(_ c: RExpr, _ f: Frame, slot: Int) -> Bool? {
        switch c.kind {
        case .binary(let op, let a, let b) where op == .or || op == .and:
            let x = loopInvariant(a, f, slot: slot), y = loopInvariant(b, f, slot: slot)
            let decisive = op == .or
            if x == decisive || y == decisive { return decisive }
            if let x, let y { return op == .or ? x || y : x && y }
            return nil
        case .unary(.not, let a):
            return loopInvariant(a, f, slot: slot).map { !$0 }
        default:
            if IRWalk.reads(slot, c) { return nil }
            return try? bool(c, f)
        }
    }

    /// What an iteration could carry into the next: bound tiles' shapes and the occupancies.
    func stateSignature(_ f: Frame) -> [Int64] {
        var sig: [Int64] = [sramCurrent, hbmCurrent]
        for (i, v) in f.values.enumerated() {
            if case .tile(let id) = v {
                let t = tiles[Int(id)]
                sig += [Int64(i), t.rows, t.cols, Int64(t.dtype.bits)]
            }
        }
        return sig
    }
}
