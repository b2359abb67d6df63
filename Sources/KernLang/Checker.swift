/// Resolves names, checks kinds, arities, dtypes and ranks, and places automatic frees.
/// Shape and range errors that depend on parameter values are found by the interpreter,
/// with the same diagnostic format.
public struct Checker {
    /// What a name stands for inside a kernel body.
    enum Kind: String { case scalar = "parameter", range = "tile range", integer = "loop index", tile, tensor, dtype }

    struct Binding {
        let kind: Kind
        let slot: Int          // frame slot, or tensor index for tensors
        let span: Span
        var rank = 0           // tensors only
        var role: TensorRole? = nil
    }

    struct KernelSignature {
        let kernel: Kernel
        let index: Int
        var params: [String: Span] = [:]
        var tensors: [String: Span] = [:]
    }

    public typealias Loader = (_ path: String, _ from: SourceFile) -> SourceFile?

    private var diagnostics = DiagnosticList()
    private var signatures: [String: KernelSignature] = [:]
    private var order: [Kernel] = []

    // Per-kernel state.
    private var scopes: [[String: Binding]] = []
    private var ended: [String: Span] = [:]
    /// Names that failed to resolve or whose definition failed: reported once, silent after.
    private var poisoned: Set<String> = []
    private var slotNames: [String] = []
    private var tensorNames: [String] = []
    private var blockLocals: [[Int]] = []
    private var autofree = false
    private var kernelName = ""
    private var launches: [(String, Span)] = []

    static let constants: [String: Double] = ["inf": .infinity, "pi": Double.pi]

    /// Parse and check `file` and everything it imports.
    public static func check(file: SourceFile, entry: String? = nil, loader: Loader) -> Result<CheckedProgram, DiagnosticList> {
        var units: [SourceUnit] = []
        var diags = DiagnosticList()
        var seen: Set<String> = []
        func visit(_ f: SourceFile) {
            guard seen.insert(f.path).inserted else { return }
            let (unit, d) = Parser.parse(f)
            diags.items += d.items
            for imp in unit.imports {
                if let g = loader(imp.path, f) { visit(g) } else {
                    diags.append(.error("cannot open imported file '\(imp.path)'", at: imp.span))
                }
            }
            units.append(unit)
        }
        visit(file)
        if diags.hasErrors { return .failure(diags) }
        var checker = Checker()
        let result = checker.checkUnits(units, mainFile: file, entry: entry)
        diags.items += checker.diagnostics.items
        if diags.hasErrors { return .failure(diags) }
        return .success(result!)
    }

    private mutating func error(_ msg: String, _ span: Span, notes: [Diagnostic.Note] = []) {
        diagnostics.append(.error(msg, at: span, notes: notes))
    }

    private mutating func checkUnits(_ units: [SourceUnit], mainFile: SourceFile, entry: String?) -> CheckedProgram? {
        for unit in units {
            for k in unit.kernels {
                if let prev = signatures[k.name.name] {
                    error("kernel '\(k.name.name)' is defined twice", k.name.span, notes: [.init("first defined here", at: prev.kernel.name.span)])
                    continue
                }
                var sig = KernelSignature(kernel: k, index: order.count)
                for s in k.body {
                    if case .param(let n, _) = s.kind { sig.params[n.name] = n.span }
                    if case .tensor(_, let n, _, _, _) = s.kind { sig.tensors[n.name] = n.span }
                }
                signatures[k.name.name] = sig
                order.append(k)
            }
        }
        var checked: [CheckedKernel] = []
        var launchGraph: [String: [(String, Span)]] = [:]
        for k in order {
            checked.append(checkKernel(k))
            launchGraph[k.name.name] = launches
        }
        // Launch cycles would recurse forever at run time.
        var state: [String: Int] = [:]
        func dfs(_ n: String) {
            state[n] = 1
            for (callee, span) in launchGraph[n] ?? [] {
                if state[callee] == 1 { error("kernel '\(n)' launches '\(callee)', which leads back to '\(n)' (recursive launch)", span) }
                else if state[callee] == nil { dfs(callee) }
            }
            state[n] = 2
        }
        for k in order where state[k.name.name] == nil { dfs(k.name.name) }

        let mainKernels = units.last(where: { $0.file === mainFile })?.kernels ?? []
        guard !mainKernels.isEmpty else {
            error("no kernel in this file; expected 'kernel NAME { ... }'", Span(file: mainFile, start: 0, end: 0))
            return nil
        }
        var entryIndex: Int
        if let entry {
            guard let sig = signatures[entry] else {
                diagnostics.append(.error("no kernel named '\(entry)' (--kernel); kernels here: \(order.map(\.name.name).joined(separator: ", "))", at: nil))
                return nil
            }
            entryIndex = sig.index
        } else {
            let base = mainFile.path.split(separator: "/").last.map { String($0.split(separator: ".").first ?? "") } ?? ""
            entryIndex = signatures[base].map(\.index) ?? signatures[mainKernels.last!.name.name]!.index
        }
        if diagnostics.hasErrors { return nil }
        return CheckedProgram(kernels: checked, entry: entryIndex, files: units.map(\.file))
    }

    // MARK: kernels and blocks

    private mutating func checkKernel(_ k: Kernel) -> CheckedKernel {
        scopes = [[:]]; ended = [:]; slotNames = []; tensorNames = []; blockLocals = []; launches = []; poisoned = []
        autofree = k.body.contains { if case .autofree = $0.kind { return true }; return false }
        kernelName = k.name.name
        var params: [KernelParam] = []
        var tensors: [(String, TensorRole, Int)] = []
        let body = checkBlock(k.body, topLevel: true)
        for s in body.stmts {
            if case .param(let slot, let name, _) = s.kind { params.append(KernelParam(name: name, slot: slot, span: s.span)) }
            if case .tensor(let idx, let role, let name, _, _, _) = s.kind { tensors.append((name, role, idx)) }
        }
        return CheckedKernel(name: k.name.name, doc: k.doc, span: k.span, body: body, slotNames: slotNames,
                             tensorNames: tensorNames, params: params, tensors: tensors)
    }

    private func lookup(_ name: String) -> Binding? {
        for scope in scopes.reversed() { if let b = scope[name] { return b } }
        return nil
    }

    private mutating func newSlot(_ name: String) -> Int { slotNames.append(name); return slotNames.count - 1 }

    /// Bind a fresh name in the innermost scope, reporting clashes.
    private mutating func declare(_ id: Ident, _ kind: Kind, rank: Int = 0, role: TensorRole? = nil) -> Int? {
        if let b = lookup(id.name) {
            error("'\(id.name)' is already defined as a \(b.kind.rawValue)", id.span, notes: [.init("previously defined here", at: b.span)])
            return nil
        }
        if Builtin(rawValue: id.name) != nil || DType(rawValue: id.name) != nil || id.name == "gpu" || Self.constants[id.name] != nil || id.name == "tiles" {
            error("'\(id.name)' is a built-in name and cannot be redefined", id.span)
            return nil
        }
        let slot: Int
        if kind == .tensor { tensorNames.append(id.name); slot = tensorNames.count - 1 } else { slot = newSlot(id.name) }
        scopes[scopes.count - 1][id.name] = Binding(kind: kind, slot: slot, span: id.span, rank: rank, role: role)
        if kind == .tile { blockLocals[blockLocals.count - 1].append(slot) }
        return slot
    }

    private mutating func checkBlock(_ stmts: [Stmt], topLevel: Bool = false, loopVar: (Ident, Kind)? = nil) -> RBlock {
        if !topLevel { scopes.append([:]) }
        blockLocals.append([])
        if let (v, kind) = loopVar { _ = declare(v, kind) }
        var out: [RStmt] = []
        for s in stmts { if let r = checkStmt(s, topLevel: topLevel) { out.append(r) } }
        let locals = blockLocals.removeLast()
        if !topLevel {
            for (name, b) in scopes.removeLast() where b.kind == .tile { ended[name] = b.span }
        }
        var block = RBlock(stmts: out, locals: locals)
        if autofree { placeFrees(&block) }
        return block
    }

    /// Automatic freeing: each tile first bound in this block is freed after the last statement
    /// of this block that mentions it (a use inside a nested loop counts as a use by the loop).
    private func placeFrees(_ block: inout RBlock) {
        var last: [Int: Int] = [:]
        for (i, s) in block.stmts.enumerated() {
            for slot in Self.mentions(s) where block.locals.contains(slot) { last[slot] = i }
        }
        for (slot, i) in last.sorted(by: { $0.key < $1.key }) { block.stmts[i].freeAfter.append(slot) }
    }

    static func mentions(_ s: RStmt) -> Set<Int> {
        var out: Set<Int> = []
        func e(_ x: RExpr) {
            switch x.kind {
            case .local(let s): out.insert(s)
            case .rangeMember(let a, _), .tileMember(let a, _), .transposed(let a), .unary(_, let a): e(a)
            case .call(_, let args): args.forEach(e)
            case .binary(_, let a, let b): e(a); e(b)
            default: break
            }
        }
        func ref(_ r: RTensorRef) {
            for sl in r.slices ?? [] {
                switch sl { case .all: break; case .index(let a): e(a); case .range(let a, let b): e(a); e(b) }
            }
        }
        func blk(_ b: RBlock) { for st in b.stmts { out.formUnion(mentions(st)) } }
        switch s.kind {
        case .param(_, _, let x): e(x)
        case .tensor(_, _, _, let shape, _, let values): shape.forEach(e); values?.forEach(e)
        case .loop(_, _, _, let d, let body, _):
            switch d { case .tiles(let a, let b): e(a); e(b); case .range(let a, let b, let c): e(a); e(b); c.map(e) }
            blk(body)
        case .ifStmt(let c, let t, let f): e(c); blk(t); f.map(blk)
        case .load(let slot, _, let r): out.insert(slot); ref(r)
        case .gather(let slot, _, _, _, let idx): out.insert(slot); e(idx)
        case .assign(let slot, _, let x), .update(let slot, _, _, let x): out.insert(slot); e(x)
        case .store(let x, let r): e(x); ref(r)
        case .scatter(let x, _, _, let idx): e(x); e(idx)
        case .free(let slots): out.formUnion(slots)
        case .freeTensors: break
        case .require(let c, _): e(c)
        case .repeatLoop(let c, let b): e(c); blk(b)
        case .launch(_, _, let params, let tensors): params.forEach { e($0.value) }; tensors.forEach { $0.indices.forEach(e) }
        }
        return out
    }

    /// True when `slot` appears in `block` only as a whole slice index, as `.len`, or as a mask's
    /// tile range: then an iteration's cost does not depend on where the tile starts.
    static func usesOnlyAsSelector(_ slot: Int, _ block: RBlock) -> Bool {
        func e(_ x: RExpr) -> Bool {
            switch x.kind {
            case .local(let s): return s != slot
            case .rangeMember(let a, let m):
                if case .local(let s) = a.kind, s == slot { return m == .len }
                return e(a)
            case .call(let fn, let args) where fn == .mask_causal || fn == .mask_window || fn == .alibi:
                return e(args[0]) && args.dropFirst(3).allSatisfy(e) && args[1...2].allSatisfy { a in
                    if case .local(let s) = a.kind, s == slot { return true }
                    return e(a)
                }
            case .call(.sinusoidal, let args):
                if case .local(let s) = args[0].kind, s == slot { return e(args[1]) }
                return args.allSatisfy(e)
            case .tileMember(let a, _), .transposed(let a), .unary(_, let a): return e(a)
            case .call(_, let args): return args.allSatisfy(e)
            case .binary(_, let a, let b): return e(a) && e(b)
            default: return true
            }
        }
        func ref(_ r: RTensorRef) -> Bool {
            (r.slices ?? []).allSatisfy { sl in
                switch sl {
                case .all: return true
                case .index(let x):
                    if case .local(let s) = x.kind, s == slot { return true }
                    return e(x)
                case .range(let a, let b): return e(a) && e(b)
                }
            }
        }
        func blk(_ b: RBlock) -> Bool { b.stmts.allSatisfy(st) }
        func st(_ s: RStmt) -> Bool {
            switch s.kind {
            case .param(_, _, let x): return e(x)
            case .tensor(_, _, _, let shape, let dt, let values): return shape.allSatisfy(e) && e(dt) && (values ?? []).allSatisfy(e)
            case .loop(_, _, _, let d, let body, _):
                switch d {
                case .tiles(let a, let b): return e(a) && e(b) && blk(body)
                case .range(let a, let b, let c): return e(a) && e(b) && (c.map(e) ?? true) && blk(body)
                }
            case .ifStmt(let c, let t, let f): return e(c) && blk(t) && (f.map(blk) ?? true)
            case .load(_, _, let r): return ref(r)
            case .gather(_, _, _, _, let idx): return e(idx)
            case .assign(_, _, let x), .update(_, _, _, let x): return e(x)
            case .store(let x, let r): return e(x) && ref(r)
            case .scatter(let x, _, _, let idx): return e(x) && e(idx)
            case .free: return true
            // Releasing HBM changes the machine, not a counter: such a loop is never fast-forwarded.
            case .freeTensors: return false
            case .require(let c, _): return e(c)
            case .repeatLoop(let c, let b): return e(c) && blk(b)
            case .launch(_, _, let params, let tensors):
                // A view index selects like a slice index does (one layer's weights per iteration).
                return params.allSatisfy { e($0.value) } && tensors.allSatisfy { $0.indices.allSatisfy { x in
                    if case .local(let s) = x.kind, s == slot { return true }
                    return e(x)
                } }
            }
        }
        return blk(block)
    }

    // MARK: statements

    /// At most one error per simple statement: the first says what is wrong, the rest would
    /// follow from it. (Loops and ifs hold statements of their own, each checked alike.)
    private mutating func checkStmt(_ s: Stmt, topLevel: Bool) -> RStmt? {
        let before = diagnostics.items.count
        let r = checkStmtKind(s, topLevel: topLevel)
        switch s.kind {
        case .forLoop, .ifStmt, .repeatLoop: break
        default:
            if diagnostics.items.count > before + 1 { diagnostics.items.removeSubrange((before + 1)...) }
        }
        return r
    }

    private mutating func checkStmtKind(_ s: Stmt, topLevel: Bool) -> RStmt? {
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

    private mutating func tileTarget(_ id: Ident) -> Int? {
        if let b = lookup(id.name) {
            guard b.kind == .tile else {
                error("cannot assign to \(b.kind.rawValue) '\(id.name)'; tiles need names of their own", id.span, notes: [.init("'\(id.name)' is defined here", at: b.span)])
                return nil
            }
            return b.slot
        }
        return declare(id, .tile)
    }

    private mutating func tensorBinding(_ id: Ident) -> Binding? {
        guard let b = lookup(id.name) else { unknownName(id.name, id.span); return nil }
        guard b.kind == .tensor else {
            error("'\(id.name)' is a \(b.kind.rawValue), not a tensor in HBM", id.span, notes: [.init("defined here", at: b.span)])
            return nil
        }
        return b
    }

    private mutating func tensorRef(_ ref: TensorRef) -> RTensorRef? {
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
    private mutating func resolveDType(_ id: Ident) -> RExpr? {
        if let d = DType(rawValue: id.name) { return RExpr(kind: .dtype(d), span: id.span, isTile: false) }
        if let b = lookup(id.name), b.kind == .dtype { return RExpr(kind: .local(b.slot), span: id.span, isTile: false) }
        var notes: [Diagnostic.Note] = [.init("dtypes are \(DType.allCases.map(\.rawValue).joined(separator: ", "))")]
        if let s = closestName(to: id.name, in: DType.allCases.map(\.rawValue)) { notes.insert(.init("did you mean '\(s)'?"), at: 0) }
        error("unknown dtype '\(id.name)'", id.span, notes: notes)
        return nil
    }

    /// Reports an unknown name once: it is then poisoned, as a name whose definition failed is,
    /// so later uses do not cascade into errors of their own.
    private mutating func unknownName(_ name: String, _ span: Span) {
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

    private func isDType(_ e: RExpr) -> Bool {
        switch e.kind {
        case .dtype: return true
        case .local(let slot): return lookupKind(slot) == .dtype
        default: return false
        }
    }

    // MARK: expressions

    private mutating func scalarExpr(_ e: Expr, _ what: String, allowRange: Bool = false) -> RExpr? {
        guard let r = expr(e, allowRange: allowRange) else { return nil }
        if r.isTile {
            error("\(what) must be a number, but this is an SRAM tile", e.span)
            return nil
        }
        return r
    }

    private mutating func tileExpr(_ e: Expr, _ what: String) -> RExpr? {
        guard let r = expr(e) else { return nil }
        if !r.isTile {
            error("\(what) must be an SRAM tile, but this is a number", e.span,
                  notes: [.init("numbers are declared with 'param NAME = ...'; tiles come from load, zeros, full or tile operations")])
            return nil
        }
        return r
    }

    private mutating func expr(_ e: Expr, allowRange: Bool = false, allowTransposed: Bool = false) -> RExpr? {
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
            let rangeArgs = builtin == .mask_causal || builtin == .mask_window || builtin == .alibi
            var rargs: [RExpr] = []
            for (k, a) in args.enumerated() {
                let isRange = (rangeArgs && (k == 1 || k == 2)) || (builtin == .sinusoidal && k == 0)
                guard let r = expr(a, allowRange: isRange) else { return nil }
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

    private func lookupKind(_ slot: Int) -> Kind? {
        for scope in scopes.reversed() { for b in scope.values where b.slot == slot && b.kind != .tensor { return b.kind } }
        return nil
    }
}
