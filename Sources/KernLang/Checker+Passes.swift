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

    /// Whether `slot` appears in `block` only as a whole slice or view index, as `.len`, or as
    /// a mask's or positional encoding's tile range: then an iteration's cost does not depend on
    /// where the tile starts. An `if` condition that reads the slot otherwise is a guard, left
    /// for the interpreter to decide with the parameters known (both branches are checked);
    /// one that reads a local the block assigns makes the loop non-uniform (a value left by an
    /// earlier iteration would decide it).
    static func usesOnlyAsSelector(_ slot: Int, _ block: RBlock) -> Uniformity {
        var ok = true, guards: [RExpr] = []
        func isSlot(_ x: RExpr) -> Bool { if case .local(let s) = x.kind { return s == slot }; return false }
        /// A slice's dimensions: an index picks one position (or the tile a bare range
        /// variable names) wherever it is; a range `a ..< b` may sit anywhere as long as its
        /// length b - a does not involve the slot (`b * T + i.start ..< b * T + i.end`).
        func slicesSelectOnly(_ r: RTensorRef) -> Bool {
            for sl in r.slices ?? [] {
                guard case .range(let a, let b) = sl else { continue }
                if !Self.lengthIgnores(slot, from: a, to: b) { return false }
            }
            return true
        }
        func visit(_ n: IRNode) -> Bool {
            guard ok else { return false }
            switch n {
            // Releasing HBM changes the machine, not a counter: such a loop is never fast-forwarded.
            case .stmt(let s):
                switch s.kind {
                case .freeTensors: ok = false
                case .ifStmt(let c, let t, let e):
                    IRWalk.inspect(c, visit)
                    if !ok { ok = true; guards.append(c) }
                    IRWalk.inspect(t, visit)
                    if let e { IRWalk.inspect(e, visit) }
                    return false
                case .load(_, _, let r):
                    ok = slicesSelectOnly(r)
                    return false
                case .store(let x, let r):
                    ok = slicesSelectOnly(r)
                    if ok { IRWalk.inspect(x, visit) }
                    return false
                default: break
                }
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
        if ok && !guards.isEmpty {
            var assigned: Set<Int> = []
            IRWalk.inspect(block) { n in
                if case .stmt(let s) = n {
                    switch s.kind {
                    case .assign(let x, _, _), .update(let x, _, _, _), .load(let x, _, _), .gather(let x, _, _, _, _): assigned.insert(x)
                    default: break
                    }
                }
                return true
            }
            if guards.contains(where: { g in assigned.contains { IRWalk.reads($0, g) } }) { ok = false }
        }
        return Uniformity(uniform: ok, guards: ok ? guards : [])
    }

    /// An expression's structure as text: equal texts, equal expressions.
    static func structure(_ x: RExpr) -> String {
        switch x.kind {
        case .int(let v): "\(v)"
        case .float(let v): "\(v)f"
        case .bool(let v): "\(v)"
        case .dtype(let d): d.rawValue
        case .local(let s): "$\(s)"
        case .gpu(let f): "gpu.\(f.rawValue)"
        case .rangeMember(let r, let m): "(\(structure(r))).\(m.rawValue)"
        case .tileMember(let t, let m): "(\(structure(t))).\(m.rawValue)"
        case .transposed(let t): "(\(structure(t))).T"
        case .call(let b, let args): "\(b.rawValue)(\(args.map(structure).joined(separator: ",")))"
        case .unary(let op, let a): "\(op.rawValue)(\(structure(a)))"
        case .binary(let op, let a, let b): "(\(structure(a)) \(op.rawValue) \(structure(b)))"
        }
    }

    /// Whether b - a is free of `slot` (but for `slot.len`): the two sides' terms, with
    /// `x.end` read as `x.start + x.len`, cancel wherever the slot appears.
    static func lengthIgnores(_ slot: Int, from a: RExpr, to b: RExpr) -> Bool {
        var terms: [String: Int] = [:]
        var involved: Set<String> = []
        func mentions(_ x: RExpr) -> Bool {
            var found = false
            IRWalk.inspect(x) { n in
                if case .expr(let e) = n {
                    if case .rangeMember(let r, .len) = e.kind, case .local(let s) = r.kind, s == slot { return false }
                    if case .local(let s) = e.kind, s == slot { found = true }
                }
                return !found
            }
            return found
        }
        func add(_ x: RExpr, _ sign: Int) {
            switch x.kind {
            case .binary(.add, let l, let r): add(l, sign); add(r, sign)
            case .binary(.sub, let l, let r): add(l, sign); add(r, -sign)
            case .rangeMember(let r, .end):
                add(RExpr(kind: .rangeMember(r, .start), span: x.span, isTile: false), sign)
                add(RExpr(kind: .rangeMember(r, .len), span: x.span, isTile: false), sign)
            default:
                let key = Self.structure(x)
                terms[key, default: 0] += sign
                if mentions(x) { involved.insert(key) }
            }
        }
        add(b, 1)
        add(a, -1)
        return involved.allSatisfy { terms[$0] == 0 }
    }

}
