/// Checker passes over resolved blocks: automatic frees (autofree) and uniformity (whether a
/// loop's iterations cost alike, so fast-forward may skip them).
extension Checker {
    /// Automatic freeing: each tile first bound in this block is freed after the last statement
    /// of this block that mentions it (a use inside a nested loop counts as a use by the loop).
    func placeFrees(_ block: inout RBlock) {
        var last: [Int: Int] = [:]
        for (i, s) in block.stmts.enumerated() {
            for slot in Self.mentions(s) where block.locals.contains(slot) { last[slot] = i }
        }
        for (slot, i) in last.sorted(by: { $0.key < $1.key }) { block.stmts[i].freeAfter.append(slot) }
    }

    /// The slots a statement reads or binds, its nested blocks included.
    static func mentions(_ s: RStmt) -> Set<Int> {
        var out: Set<Int> = []
        IRWalk.inspect(s) { n in
            switch n {
            case .stmt(let st):
                switch st.kind {
                case .load(let slot, _, _), .gather(let slot, _, _, _, _), .assign(let slot, _, _), .update(let slot, _, _, _): out.insert(slot)
                case .free(let slots): out.formUnion(slots)
                default: break
                }
            case .expr(let x), .selector(let x):
                if case .local(let slot) = x.kind { out.insert(slot) }
            }
            return true
        }
        return out
    }

    /// True when `slot` appears in `block` only as a whole slice or view index, as `.len`, or as
    /// a mask's or positional encoding's tile range: then an iteration's cost does not depend on
    /// where the tile starts.
    static func usesOnlyAsSelector(_ slot: Int, _ block: RBlock) -> Bool {
        var ok = true
        func isSlot(_ x: RExpr) -> Bool { if case .local(let s) = x.kind { return s == slot }; return false }
        func visit(_ n: IRNode) -> Bool {
            guard ok else { return false }
            switch n {
            // Releasing HBM changes the machine, not a counter: such a loop is never fast-forwarded.
            case .stmt(let s): if case .freeTensors = s.kind { ok = false }
            case .selector(let x): if isSlot(x) { return false }
            case .expr(let x):
                switch x.kind {
                case .local: if isSlot(x) { ok = false }
                case .rangeMember(let a, let m) where isSlot(a):
                    if m != .len { ok = false }
                    return false
                case .call(let fn, let args) where fn == .mask_causal || fn == .mask_window || fn == .alibi || fn == .sinusoidal:
                    // The tile-range arguments (a mask's 1 and 2, sinusoidal's 0) select positions.
                    let ranges = fn == .sinusoidal ? 0...0 : 1...2
                    for (i, a) in args.enumerated() {
                        guard ranges.contains(i) else { IRWalk.inspect(a, visit); continue }
                        // A shifted range (`i + P`) selects positions too; only the shift is inspected.
                        if case .binary(_, let r, let shift) = a.kind, isSlot(r) { IRWalk.inspect(shift, visit) }
                        else if !isSlot(a) { IRWalk.inspect(a, visit) }
                    }
                    return false
                default: break
                }
            }
            return ok
        }
        IRWalk.inspect(block, visit)
        return ok
    }

}
