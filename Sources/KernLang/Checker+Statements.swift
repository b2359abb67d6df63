/// Checking statements: names to slots, kinds, one error per simple statement.
extension Checker {
    // MARK: statements

    /// At most one error per simple statement: the first says what is wrong, the rest would
    /// follow from it. (Loops and ifs hold statements of their own, each checked alike.)
    mutating func checkStmt(_ s: Stmt, topLevel: Bool) -> RStmt? {
        let before = diagnostics.items.count
        let r = checkStmtKind(s, topLevel: topLevel)
        switch s.kind {
        case .forLoop, .ifStmt, .repeatLoop: break
        default:
            if diagnostics.items.count > before + 1 { diagnostics.items.removeSubrange((before + 1)...) }
        }
        return r
    }

    mutating func checkStmtKind(_ s: Stmt, topLevel: Bool) -> RStmt? {
        func make(_ k: RStmtKind) -> RStmt { RStmt(kind: k, span: s.span, freeAfter: []) }
        switch s.kind {
        case .autofree:
            return nil
        case .param(let id, let value):
            if !topLevel { error("parameters are declared at the top of a kernel, not inside a block", s.span) }
            let v = scalarExpr(value, "a parameter's value")
            // Declared even when its value is bad, so later uses do not cascade into more errors.
            guard let slot = declare(id, v.map(isDType) == true ? .dtype : .scalar), let v else { return nil }
            return make(.param(slot: slot, name: id.name, v))
        case .tensor(let role, let id, let shape, let dt, let values):
            if !topLevel { error("tensors in HBM are declared at the top of a kernel, not inside a block", s.span) }
            if shape.count > 4 { error("a tensor has rank 1 to 4; '\(id.name)' has \(shape.count) dimensions", shape[4].span.to(shape.last!.span)) }
            if values != nil && role != .input && role != .weight {
                error("only inputs and weights can be given values; '\(id.name)' is \(role == .output ? "an" : "a") \(role.rawValue)", id.span)
            }
            let dims = shape.compactMap { scalarExpr($0, "a tensor dimension") }
            let given = values?.compactMap { scalarExpr($0, "a tensor value") }
            let dtype = resolveDType(dt)
            guard let idx = declare(id, .tensor, rank: shape.count, role: role), dims.count == shape.count, let dtype,
                  given?.count == values?.count else { return nil }
            return make(.tensor(index: idx, role: role, name: id.name, shape: dims, dtype: dtype, values: given))
        case .forLoop(let parallel, let v, let domain, let body):
            let rd: RLoopDomain
            switch domain {
            case .tiles(let ext, let size):
                guard let a = scalarExpr(ext, "the extent in tiles(EXTENT, SIZE)"), let b = scalarExpr(size, "the tile size in tiles(EXTENT, SIZE)") else { return nil }
                rd = .tiles(extent: a, size: b)
            case .range(let from, let to, let step):
                guard let a = scalarExpr(from, "a loop bound"), let b = scalarExpr(to, "a loop bound") else { return nil }
                var c: RExpr?
                if let step { guard let x = scalarExpr(step, "a loop step") else { return nil }; c = x }
                rd = .range(from: a, to: b, step: c)
            }
            if let b = lookup(v.name) {
                error("loop variable '\(v.name)' shadows a \(b.kind.rawValue) of the same name", v.span, notes: [.init("defined here", at: b.span)])
                return nil
            }
            let kind: Kind
            if case .tiles = domain { kind = .range } else { kind = .integer }
            let slotBefore = slotNames.count
            let block = checkBlock(body, loopVar: (v, kind))
            let uniform = Self.usesOnlyAsSelector(slotBefore, block)
            return make(.loop(parallel: parallel, slot: slotBefore, name: v.name, domain: rd, body: block, uniform: uniform))
        case .ifStmt(let cond, let then, let otherwise):
            guard let c = scalarExpr(cond, "a condition") else { return nil }
            let t = checkBlock(then)
            let f = otherwise.map { checkBlock($0) }
            return make(.ifStmt(c, then: t, else: f))
        case .load(let id, let ref):
            guard let r = tensorRef(ref), let slot = tileTarget(id) else {
                if lookup(id.name) == nil { poisoned.insert(id.name) }
                return nil
            }
            return make(.load(slot: slot, name: id.name, r))
        case .gather(let id, let table, let index):
            guard let t = tensorBinding(table), let idx = tileExpr(index, "the index tile of a gather"), let slot = tileTarget(id) else { return nil }
            if t.rank != 2 { error("gather reads rows of a rank-2 table; '\(table.name)' has rank \(t.rank)", table.span) }
            return make(.gather(slot: slot, name: id.name, table: t.slot, tableName: table.name, index: idx))
        case .assign(let id, let value):
            if case .name(let n) = value.kind, lookup(n)?.kind == .tensor {
                error("'\(n)' is a tensor in HBM; bring it into SRAM with '\(id.name) = load \(n)[...]'", value.span)
                return nil
            }
            guard let v = tileExpr(value, "the right-hand side of '\(id.name) = ...'") else {
                if lookup(id.name) == nil { poisoned.insert(id.name) }
                return nil
            }
            guard let slot = tileTarget(id) else { return nil }
            return make(.assign(slot: slot, name: id.name, v))
        case .update(let id, let op, let value):
            guard let b = lookup(id.name) else { unknownName(id.name, id.span); return nil }
            guard b.kind == .tile else {
                error("'\(id.name)' is a \(b.kind.rawValue); only SRAM tiles can be updated with '\(op.rawValue)'", id.span, notes: [.init("defined here", at: b.span)])
                return nil
            }
            guard let v = expr(value) else { return nil }
            return make(.update(slot: b.slot, name: id.name, op, v))
        case .store(let value, let ref):
            guard let v = tileExpr(value, "the value of a store"), let r = tensorRef(ref) else { return nil }
            return make(.store(v, r))
        case .scatter(let value, let table, let index):
            guard let v = tileExpr(value, "the value of a scatter"), let t = tensorBinding(table),
                  let idx = tileExpr(index, "the index tile of a scatter") else { return nil }
            if t.rank != 2 { error("scatter adds rows into a rank-2 table; '\(table.name)' has rank \(t.rank)", table.span) }
            return make(.scatter(v, table: t.slot, tableName: table.name, index: idx))
        case .free(let ids):
            var slots: [Int] = [], tensors: [(Int, String)] = []
            for id in ids {
                guard let b = lookup(id.name) else { unknownName(id.name, id.span); continue }
                if b.kind == .tensor {
                    guard b.role == .scratch else {
                        error("only scratch tensors can be freed from HBM; '\(id.name)' is \(b.role.map { "an \($0.rawValue)" } ?? "not one") (its memory belongs to the caller)", id.span, notes: [.init("declared here", at: b.span)])
                        continue
                    }
                    tensors.append((b.slot, id.name))
                    continue
                }
                guard b.kind == .tile else { error("only SRAM tiles and scratch tensors can be freed; '\(id.name)' is a \(b.kind.rawValue)", id.span); continue }
                slots.append(b.slot)
            }
            if !tensors.isEmpty && !slots.isEmpty {
                error("free SRAM tiles and HBM tensors in separate statements", s.span)
                return nil
            }
            return tensors.isEmpty ? make(.free(slots)) : make(.freeTensors(tensors.map(\.0), names: tensors.map(\.1)))
        case .collective(let op, let ref, let gpus):
            guard let r = tensorRef(ref), let n = scalarExpr(gpus, "the number of GPUs") else { return nil }
            return make(.collective(op, r, gpus: n))
        case .setting(let k, let value):
            if !topLevel { error("'\(k.rawValue)' is declared at the top of a kernel, not inside a block", s.span) }
            if let first = settingSpans[k] {
                error("a kernel has one '\(k.rawValue)'", s.span, notes: [.init("declared here first", at: first)])
                return nil
            }
            settingSpans[k] = s.span
            guard let c = scalarExpr(value, k.meaning) else { return nil }
            return make(.setting(k, c))
        case .require(let cond, let message):
            guard let c = scalarExpr(cond, "a requirement") else { return nil }
            return make(.require(c, message: message))
        case .repeatLoop(let count, let body):
            guard let c = scalarExpr(count, "a repeat count") else { return nil }
            return make(.repeatLoop(count: c, body: checkBlock(body)))
        case .launch(let name, let args):
            guard let sig = signatures[name.name] else {
                error("unknown kernel '\(name.name)'", name.span, notes: closestName(to: name.name, in: signatures.keys).map { [.init("did you mean '\($0)'?")] } ?? [])
                return nil
            }
            launches.append((name.name, name.span))
            var params: [(Int, String, RExpr)] = []
            var tensors: [(Int, Int, [RExpr])] = []
            let calleeTensors = Self.tensorOrder(sig.kernel)
            let calleeParams = Self.paramOrder(sig.kernel)
            for a in args {
                if let ti = calleeTensors.firstIndex(of: a.name.name) {
                    guard case .name(let n) = a.value.kind, let b = lookup(n), b.kind == .tensor else {
                        error("'\(a.name.name)' is a tensor of kernel '\(name.name)'; pass one of this kernel's tensors by name", a.value.span)
                        continue
                    }
                    var indices: [RExpr] = []
                    for ix in a.indices ?? [] { if let r = scalarExpr(ix, "a view index") { indices.append(r) } }
                    let calleeRank = sig.kernel.body.compactMap { st -> Int? in
                        if case .tensor(_, let tn, let shape, _, _) = st.kind, tn.name == a.name.name { return shape.count }
                        return nil
                    }.first ?? 0
                    if b.rank - indices.count != calleeRank {
                        error("'\(n)' has rank \(b.rank)\(indices.isEmpty ? "" : " (\(b.rank - indices.count) after fixing \(indices.count) index\(indices.count == 1 ? "" : "es"))") but '\(a.name.name)' of kernel '\(name.name)' has rank \(calleeRank)", a.value.span)
                        continue
                    }
                    tensors.append((ti, b.slot, indices))
                } else if let pi = calleeParams.firstIndex(of: a.name.name) {
                    if let v = scalarExpr(a.value, "a parameter argument") { params.append((pi, a.name.name, v)) }
                } else {
                    let all = calleeParams + calleeTensors
                    error("kernel '\(name.name)' has no parameter or tensor named '\(a.name.name)'", a.name.span,
                          notes: closestName(to: a.name.name, in: all).map { [.init("did you mean '\($0)'?")] } ?? [.init("it takes: \(all.joined(separator: ", "))")])
                }
            }
            return make(.launch(kernel: sig.index, name: name.name, params: params.map { ($0.0, $0.1, $0.2) }, tensors: tensors.map { ($0.0, $0.1, $0.2) }))
        }
    }

    /// Parameter slots of a kernel are numbered in declaration order, tensors likewise;
    /// the interpreter relies on params being the first slots bound at top level.
    static func paramOrder(_ k: Kernel) -> [String] {
        k.body.compactMap { if case .param(let n, _) = $0.kind { return n.name }; return nil }
    }
    static func tensorOrder(_ k: Kernel) -> [String] {
        k.body.compactMap { if case .tensor(_, let n, _, _, _) = $0.kind { return n.name }; return nil }
    }

    mutating func tileTarget(_ id: Ident) -> Int? {
        if let b = lookup(id.name) {
            guard b.kind == .tile else {
                error("cannot assign to \(b.kind.rawValue) '\(id.name)'; tiles need names of their own", id.span, notes: [.init("'\(id.name)' is defined here", at: b.span)])
                return nil
            }
            return b.slot
        }
        return declare(id, .tile)
    }

    mutating func tensorBinding(_ id: Ident) -> Binding? {
        guard let b = lookup(id.name) else { unknownName(id.name, id.span); return nil }
        guard b.kind == .tensor else {
            error("'\(id.name)' is a \(b.kind.rawValue), not a tensor in HBM", id.span, notes: [.init("defined here", at: b.span)])
            return nil
        }
        return b
    }

    mutating func tensorRef(_ ref: TensorRef) -> RTensorRef? {
        guard let b = tensorBinding(ref.name) else { return nil }
        var slices: [RSlice]?
        if let ss = ref.slices {
            if ss.count != b.rank {
                error("'\(ref.name.name)' has rank \(b.rank) but the slice has \(ss.count) dimension\(ss.count == 1 ? "" : "s")", ref.span,
                      notes: [.init("'\(ref.name.name)' is declared here", at: b.span)])
                return nil
            }
            var out: [RSlice] = []
            for s in ss {
                switch s {
                case .all: out.append(.all)
                case .index(let e): guard let x = scalarExpr(e, "a slice index", allowRange: true) else { return nil }; out.append(.index(x))
                case .range(let a, let c):
                    guard let x = scalarExpr(a, "a slice bound"), let y = scalarExpr(c, "a slice bound") else { return nil }
                    out.append(.range(x, y))
                }
            }
            slices = out
        }
        return RTensorRef(tensor: b.slot, name: ref.name.name, slices: slices, span: ref.span)
    }

    /// A dtype name, or a parameter holding one (`param dt = f16`).
    mutating func resolveDType(_ id: Ident) -> RExpr? {
        if let d = DType(rawValue: id.name) { return RExpr(kind: .dtype(d), span: id.span, isTile: false) }
        if let b = lookup(id.name), b.kind == .dtype { return RExpr(kind: .local(b.slot), span: id.span, isTile: false) }
        var notes: [Diagnostic.Note] = [.init("dtypes are \(DType.allCases.map(\.rawValue).joined(separator: ", "))")]
        if let s = closestName(to: id.name, in: DType.allCases.map(\.rawValue)) { notes.insert(.init("did you mean '\(s)'?"), at: 0) }
        error("unknown dtype '\(id.name)'", id.span, notes: notes)
        return nil
    }

    /// Reports an unknown name once: it is then poisoned, as a name whose definition failed is,
    /// so later uses do not cascade into errors of their own.
    mutating func unknownName(_ name: String, _ span: Span) {
        guard poisoned.insert(name).inserted else { return }
        var notes: [Diagnostic.Note] = []
        if let e = ended[name] {
            error("unknown name '\(name)'", span, notes: [.init("'\(name)' was defined here, inside a block that has ended", at: e)])
            return
        }
        // In the order they were declared, so that ties go the same way every time.
        var candidates = scopes.flatMap { $0.map { ($0.key, $0.value.span.start) } }.sorted { $0.1 < $1.1 }.map(\.0)
        candidates += Builtin.allCases.map(\.rawValue) + ["gpu", "inf", "pi"]
        if let s = closestName(to: name, in: candidates) { notes.append(.init("did you mean '\(s)'?")) }
        error("unknown name '\(name)'", span, notes: notes)
    }

    func isDType(_ e: RExpr) -> Bool {
        switch e.kind {
        case .dtype: return true
        case .local(let slot): return lookupKind(slot) == .dtype
        default: return false
        }
    }

}
