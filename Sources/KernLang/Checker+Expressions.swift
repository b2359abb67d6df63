/// Checking expressions: kinds, arities, builtin arguments.
extension Checker {
    // MARK: expressions

    mutating func scalarExpr(_ e: Expr, _ what: String, allowRange: Bool = false) -> RExpr? {
        guard let r = expr(e, allowRange: allowRange) else { return nil }
        if r.isTile {
            error("\(what) must be a number, but this is an SRAM tile", e.span)
            return nil
        }
        return r
    }

    mutating func tileExpr(_ e: Expr, _ what: String) -> RExpr? {
        guard let r = expr(e) else { return nil }
        if !r.isTile {
            error("\(what) must be an SRAM tile, but this is a number", e.span,
                  notes: [.init("numbers are declared with 'param NAME = ...'; tiles come from load, zeros, full or tile operations")])
            return nil
        }
        return r
    }

    mutating func expr(_ e: Expr, allowRange: Bool = false, allowTransposed: Bool = false) -> RExpr? {
        func mk(_ k: RExprKind, tile: Bool) -> RExpr { RExpr(kind: k, span: e.span, isTile: tile) }
        switch e.kind {
        case .int(let v): return mk(.int(v), tile: false)
        case .float(let v): return mk(.float(v), tile: false)
        case .bool(let v): return mk(.bool(v), tile: false)
        case .name(let n):
            if let d = DType(rawValue: n) { return mk(.dtype(d), tile: false) }
            if let c = Self.constants[n] { return mk(.float(c), tile: false) }
            if n == "gpu" { error("'gpu' is used as gpu.FACT, one of: \(GPUFact.allCases.map(\.rawValue).joined(separator: ", "))", e.span); return nil }
            guard let b = lookup(n) else { unknownName(n, e.span); return nil }
            switch b.kind {
            case .tensor:
                error("'\(n)' is a tensor in HBM; load a slice of it into SRAM first", e.span, notes: [.init("declared here", at: b.span)])
                return nil
            case .range:
                if !allowRange {
                    // A tile range used as a number means its start: the common `i` in `i + Br`.
                    return mk(.rangeMember(mk(.local(b.slot), tile: false), .start), tile: false)
                }
                return mk(.local(b.slot), tile: false)
            case .tile: return mk(.local(b.slot), tile: true)
            default: return mk(.local(b.slot), tile: false)
            }
        case .member(let base, let m):
            if case .name("gpu") = base.kind {
                guard let f = GPUFact(rawValue: m.name) else {
                    var notes: [Diagnostic.Note] = [.init("GPU facts are \(GPUFact.allCases.map(\.rawValue).joined(separator: ", "))")]
                    if let s = closestName(to: m.name, in: GPUFact.allCases.map(\.rawValue)) { notes.insert(.init("did you mean 'gpu.\(s)'?"), at: 0) }
                    error("unknown GPU fact 'gpu.\(m.name)'", m.span, notes: notes)
                    return nil
                }
                return mk(.gpu(f), tile: false)
            }
            guard let b = expr(base, allowRange: true) else { return nil }
            if b.isTile {
                if m.name == "T" {
                    if !allowTransposed {
                        error("'.T' is a transposed view for a matmul operand (A @ B.T); use transpose(X) for a transposed copy", m.span)
                        return nil
                    }
                    return RExpr(kind: .transposed(b), span: e.span, isTile: true)
                }
                guard let tm = TileMember(rawValue: m.name) else {
                    error("tiles have .rows, .cols and .T, not '.\(m.name)'", m.span); return nil
                }
                return mk(.tileMember(b, tm), tile: false)
            }
            if case .local(let slot) = b.kind, lookupKind(slot) == .range {
                guard let rm = RangeMember(rawValue: m.name) else {
                    error("tile ranges have .start, .end and .len, not '.\(m.name)'", m.span); return nil
                }
                return mk(.rangeMember(b, rm), tile: false)
            }
            error("'.\(m.name)' needs a tile or a tile range on its left", m.span)
            return nil
        case .call(let fn, let args):
            guard let builtin = Builtin(rawValue: fn.name) else {
                var notes: [Diagnostic.Note] = []
                if let s = closestName(to: fn.name, in: Builtin.allCases.map(\.rawValue)) { notes.append(.init("did you mean '\(s)'?")) }
                error("unknown function '\(fn.name)'", fn.span, notes: notes)
                return nil
            }
            if !builtin.arity.contains(args.count) {
                let n = builtin.arity.lowerBound == builtin.arity.upperBound ? "\(builtin.arity.lowerBound)" : "\(builtin.arity.lowerBound) or \(builtin.arity.upperBound)"
                error("'\(fn.name)' takes \(n) argument\(n == "1" ? "" : "s"), got \(args.count)", e.span, notes: [.init("usage: \(builtin.signature)")])
                return nil
            }
            var rargs: [RExpr] = []
            for (k, a) in args.enumerated() {
                guard let r = expr(a, allowRange: builtin.rangeArguments.contains(k)) else { return nil }
                rargs.append(r)
            }
            let anyTile = rargs.contains(where: \.isTile)
            if builtin.scalarOnly && anyTile {
                error("'\(fn.name)' works on numbers, not on SRAM tiles", e.span); return nil
            }
            if builtin == .bytes && !isDType(rargs[0]) { error("bytes(DTYPE) takes a dtype such as f16", args[0].span); return nil }
            if builtin.makesTile, ![Builtin.zeros, .full, .sinusoidal].contains(builtin), !rargs[0].isTile {
                error("'\(fn.name)' needs an SRAM tile as its first argument", args[0].span); return nil
            }
            if builtin == .cast && !isDType(rargs[1]) { error("cast(tile, DTYPE) takes a dtype such as f16 as its second argument", args[1].span); return nil }
            return mk(.call(builtin, rargs), tile: builtin.makesTile || anyTile)
        case .unary(let op, let a):
            guard let x = expr(a) else { return nil }
            if op == .not && x.isTile { error("'!' applies to conditions, not tiles", e.span); return nil }
            return mk(.unary(op, x), tile: x.isTile)
        case .binary(let op, let a, let b):
            // Where a builtin takes a tile range, `i + n` and `i - n` are that range shifted by n
            // (the positions of a query tile behind P cached tokens: `i + P`).
            if allowRange, op == .add || op == .sub, case .name(let n) = a.kind, let r = lookup(n), r.kind == .range {
                guard let shift = expr(b) else { return nil }
                if shift.isTile { error("a tile range shifts by a number, not a tile", b.span); return nil }
                return mk(.binary(op, mk(.local(r.slot), tile: false), shift), tile: false)
            }
            let isMatmul = op == .matmul
            guard let x = expr(a, allowTransposed: isMatmul), let y = expr(b, allowTransposed: isMatmul) else { return nil }
            if isMatmul {
                if !x.isTile || !y.isTile {
                    error("'@' multiplies two SRAM tiles", (!x.isTile ? a : b).span); return nil
                }
            } else if x.isTile || y.isTile {
                if ![.add, .sub, .mul, .div].contains(op) {
                    error("'\(op.rawValue)' is not an elementwise tile operation; use + - * / max() min()", e.span); return nil
                }
            }
            return mk(.binary(op, x, y), tile: x.isTile || y.isTile)
        }
    }

    func lookupKind(_ slot: Int) -> Kind? {
        for scope in scopes.reversed() { for b in scope.values where b.slot == slot && b.kind != .tensor { return b.kind } }
        return nil
    }
}
