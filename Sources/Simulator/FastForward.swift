import Foundation
import KernLang

/// Loops, and the fast-forward of identical iterations (record one, replay or add its tally).
extension Interpreter {
    /// Runs `count` iterations, the first `full` of which are alike (the rest is a ragged tile).
    /// Fast-forward: when the loop is uniform and the second iteration leaves the machine in the
    /// state it found it (the same tiles bound, the same occupancy), every later full iteration
    /// would repeat it exactly, so its counter difference is added for each skipped one. The last
    /// full iteration still runs, so bounds checks see the largest start. A loop with guards
    /// (`if` conditions that read its variable) does so when what is known settles them, and
    /// otherwise over each run of iterations that agree on them (a causal key loop: the tiles
    /// before the diagonal, then those after it).
    /// `apart`: each iteration is a block a numeric run hands to a worker thread. `step`: each
    /// iteration is a step of the thread block running the loop.
    func iterate(count: Int64, full: Int64, uniform: Uniformity, slot: Int?, blocks: Bool = false, step: Bool = false, gridLevel: Bool = false, apart: Bool = false,
                 _ body: RBlock, _ f: Frame, _ loop: RStmt, value: (Int64) -> Value) throws(SimulationError) {
        var k: Int64 = 0
        if gridLevel, let slot { gridLevels.append((slot, count)) }
        defer { if gridLevel && slot != nil { gridLevels.removeLast() } }
        let name = slot.map { f.kernel.slotNames[$0] } ?? "repeat"
        loopDepth += 1
        if step { blockLoopDepth += 1; blockLooped = true }
        defer { loopDepth -= 1; if step { blockLoopDepth -= 1 } }
        func one(_ k: Int64) throws(SimulationError) {
            if loopDepth == 1, let progress { progress(Double(k) / Double(max(count, 1))) }
            if let slot { f.values[slot] = value(k) }
            if sink != nil { try emit(.iteration, op: "loop", name: name, rows: k, cols: count, bytes: 0, flops: 0, duration: 0, loop.span) } else { countEvent() }
            if blocks { tally.blocks += 1; blockLooped = false; blockReducedRows = false; blockStartBytes = tally.readBytes &+ tally.writeBytes }
            let work = tally.loads &+ tally.stores &+ tally.computes
            if apart { numerics?.beginBlock() }
            try exec(body, f)
            // A block that reduced the rows it loaded without a loop to pipeline its loads: a row kernel.
            if blocks && blockReducedRows && !blockLooped { tally.rowReductionBytes &+= tally.readBytes &+ tally.writeBytes &- blockStartBytes }
            // A block's start and each iteration of a sequential loop in it that does work (one a
            // guard skips whole, like a causal kernel's key tiles past the diagonal, is no step):
            // a step of its warps.
            if blocks || (step && tally.loads &+ tally.stores &+ tally.computes != work) { tally.warpSteps &+= f.warps }
            // A store outside this block (an outer parallel level's) is no block's epilogue.
            if blocks { blockLooped = false }
            if apart { numerics?.endBlock() }
        }
        /// Iterations a ..< b, known alike: the first two run, and if the second left the
        /// machine as it found it, the rest but the last are added from its difference.
        func alike(_ a: Int64, _ b: Int64) throws(SimulationError) {
            guard b - a >= 4 else { for i in a..<b { try one(i) }; return }
            try one(a)
            let before = stateSignature(f), t0 = tally
            // With an event sink, record the second iteration's events to replay for the skipped ones.
            let outer = recording
            if sink != nil { recording = [] }
            try one(a + 1)
            var recorded = recording ?? []
            recording = outer.map { $0 + recorded }
            guard stateSignature(f) == before else { for i in (a + 2)..<b { try one(i) }; return }
            let delta = tally - t0
            if sink != nil {
                for skipped in (a + 2)..<(b - 1) { try replay(&recorded, iteration: skipped, from: t0); try tally.add(delta, times: 1) }
            } else {
                try tally.add(delta, times: b - a - 3)
            }
            try one(b - 1)
        }
        if uniform.uniform && fastForward && numerics == nil && full >= 4 {
            let settled = slot.map { s in uniform.guards.allSatisfy { loopInvariant($0, f, slot: s) != nil } } == true
            if uniform.guards.isEmpty || settled {
                try alike(0, full)
                k = full
            } else if let slot, let cuts = changePoints(uniform.guards, slot: slot, full: full, f, value: value) {
                // Each comparison changes at most once: the runs between its change points.
                for (a, b) in zip(cuts, cuts.dropFirst()) { try alike(a, b) }
                k = full
            } else if let slot {
                func outcomes(_ i: Int64) -> [Bool]? {
                    f.values[slot] = value(i)
                    var out: [Bool] = []
                    for g in uniform.guards { guard let v = try? bool(g, f) else { return nil }; out.append(v) }
                    return out
                }
                while k < full, let run = outcomes(k) {
                    var end = k + 1
                    while end < full, outcomes(end) == run { end += 1 }
                    try alike(k, end)
                    k = end
                }
            }
        }
        while k < count { try one(k); k += 1 }
        if let slot { f.values[slot] = .none }
    }

    /// Where the outcomes of `guards` can change across full iterations 0 ..< `full`, with 0 and
    /// `full` at the ends, when every part of them that reads the loop variable compares two
    /// quantities affine in the iteration number (`j.start < i.end`): such a comparison changes
    /// at most once, and bisection finds where. nil when some part is not of that kind or
    /// cannot be evaluated (the caller then reads the guards at every iteration).
    func changePoints(_ guards: [RExpr], slot: Int, full: Int64, _ f: Frame, value: (Int64) -> Value) -> [Int64]? {
        var atoms: [RExpr] = []
        func collect(_ c: RExpr) -> Bool {
            switch c.kind {
            case .binary(let op, let a, let b) where op == .or || op == .and: return collect(a) && collect(b)
            case .unary(.not, let a): return collect(a)
            case .binary(let op, let a, let b) where [.lt, .le, .gt, .ge].contains(op):
                guard IRWalk.reads(slot, c) else { return true }
                guard affine(a, slot: slot) && affine(b, slot: slot) else { return false }
                atoms.append(c)
                return true
            default: return !IRWalk.reads(slot, c)
            }
        }
        guard guards.allSatisfy(collect) else { return nil }
        var cuts: Set<Int64> = [0, full]
        for atom in atoms {
            func at(_ i: Int64) -> Bool? { f.values[slot] = value(i); return try? bool(atom, f) }
            guard let first = at(0), let last = at(full - 1) else { return nil }
            guard first != last else { continue }
            var lo: Int64 = 0, hi = full - 1   // at(lo) == first, at(hi) != first
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2
                guard let v = at(mid) else { return nil }
                if v == first { lo = mid } else { hi = mid }
            }
            cuts.insert(hi)
        }
        return cuts.sorted()
    }

    /// Whether scalar `e` is affine in the iteration number of the loop over `slot` across its
    /// full iterations: the variable (a range loop's), its tile's start, end or length, and
    /// what does not read it, combined by +, - and multiplication by what does not read it.
    func affine(_ e: RExpr, slot: Int) -> Bool {
        guard IRWalk.reads(slot, e) else { return true }
        switch e.kind {
        case .local(let s): return s == slot
        case .rangeMember(let r, _):
            if case .local(let s) = r.kind { return s == slot }
            return false
        case .unary(.neg, let a): return affine(a, slot: slot)
        case .binary(.add, let a, let b), .binary(.sub, let a, let b): return affine(a, slot: slot) && affine(b, slot: slot)
        case .binary(.mul, let a, let b):
            return (!IRWalk.reads(slot, a) && affine(b, slot: slot)) || (!IRWalk.reads(slot, b) && affine(a, slot: slot))
        default: return false
        }
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
