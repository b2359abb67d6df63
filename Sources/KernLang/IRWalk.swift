/// A node of the resolved IR as a walk meets it.
public enum IRNode {
    case stmt(RStmt)
    case expr(RExpr)
    /// An expression that picks one position of a dimension: a whole slice index (`X[i, k]`)
    /// or a launch's view index (`W = Wq[l]`). Its children are visited as `.expr`.
    case selector(RExpr)
}

/// Walks the resolved IR in the manner of go/ast.Inspect: `visit` sees each node, parents
/// before children, in source order; returning false skips the node's children. The one
/// place that knows which expressions and blocks a statement holds.
public enum IRWalk {
    public static func inspect(_ b: RBlock, _ visit: (IRNode) -> Bool) {
        for s in b.stmts { inspect(s, visit) }
    }

    public static func inspect(_ s: RStmt, _ visit: (IRNode) -> Bool) {
        guard visit(.stmt(s)) else { return }
        func e(_ x: RExpr) { inspect(x, visit) }
        func ref(_ r: RTensorRef) {
            for sl in r.slices ?? [] {
                switch sl {
                case .all: break
                case .index(let a): selector(a, visit)
                case .range(let a, let b): e(a); e(b)
                }
            }
        }
        switch s.kind {
        case .param(_, _, let x): e(x)
        case .tensor(_, _, _, let shape, let dt, let values): shape.forEach(e); e(dt); values?.forEach(e)
        case .loop(_, _, _, let d, let body, _):
            switch d {
            case .tiles(let a, let b): e(a); e(b)
            case .range(let a, let b, let c): e(a); e(b); c.map(e)
            }
            inspect(body, visit)
        case .ifStmt(let c, let t, let f): e(c); inspect(t, visit); f.map { inspect($0, visit) }
        case .load(_, _, let r): ref(r)
        case .gather(_, _, _, _, let idx): e(idx)
        case .assign(_, _, let x), .update(_, _, _, let x): e(x)
        case .store(let x, let r): e(x); ref(r)
        case .scatter(let x, _, _, let idx): e(x); e(idx)
        case .free, .freeTensors: break
        case .require(let c, _), .setting(_, let c): e(c)
        case .collective(_, let r, let n): ref(r); e(n)
        case .repeatLoop(let c, let b): e(c); inspect(b, visit)
        case .launch(_, _, let params, let tensors):
            params.forEach { e($0.value) }
            tensors.forEach { $0.indices.forEach { selector($0, visit) } }
        }
    }

    public static func inspect(_ x: RExpr, _ visit: (IRNode) -> Bool) {
        guard visit(.expr(x)) else { return }
        children(x) { inspect($0, visit) }
    }

    static func selector(_ x: RExpr, _ visit: (IRNode) -> Bool) {
        guard visit(.selector(x)) else { return }
        children(x) { inspect($0, visit) }
    }

    /// An expression's direct subexpressions, in source order.
    public static func children(_ x: RExpr, _ body: (RExpr) -> Void) {
        switch x.kind {
        case .rangeMember(let a, _), .tileMember(let a, _), .transposed(let a), .unary(_, let a): body(a)
        case .call(_, let args): args.forEach(body)
        case .binary(_, let a, let b): body(a); body(b)
        case .int, .float, .bool, .dtype, .local, .gpu: break
        }
    }

    /// Whether `x` reads local `slot` (the variable itself or any of its members).
    public static func reads(_ slot: Int, _ x: RExpr) -> Bool {
        var found = false
        inspect(x) { n in
            if case .expr(let e) = n, case .local(let s) = e.kind, s == slot { found = true }
            return !found
        }
        return found
    }

    /// Whether any node of `b` satisfies `test` (stops at the first).
    public static func contains(_ b: RBlock, where test: (IRNode) -> Bool) -> Bool {
        var found = false
        inspect(b) { n in
            if found { return false }
            if test(n) { found = true; return false }
            return true
        }
        return found
    }
}
