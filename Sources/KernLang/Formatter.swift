import Foundation

/// Prints canonical `.kern` source (`gpusim fmt`): four-space indents, one statement a line,
/// parentheses only where precedence needs them. Comments are kept: a comment on a line of
/// its own stays before the statement that follows it, a trailing one after its statement.
public enum Formatter {
    /// The comments not yet printed, in source order.
    struct Pending {
        var comments: [Comment]
        var next = 0

        /// Prints every comment that starts before `offset`.
        mutating func flush(upTo offset: Int, pad: String, into out: inout [String]) {
            while next < comments.count && comments[next].start < offset {
                let c = comments[next]
                if !c.ownLine, let last = out.indices.last, !out[last].isEmpty { out[last] += "  " + c.text } else { out.append(pad + c.text) }
                next += 1
            }
        }

        /// Appends the trailing comments that end the line printed last (before a blank line
        /// separates that statement from the next one).
        mutating func flushTrailing(upTo offset: Int, into out: inout [String]) {
            while next < comments.count && comments[next].start < offset && !comments[next].ownLine,
                  let last = out.indices.last, !out[last].isEmpty {
                out[last] += "  " + comments[next].text
                next += 1
            }
        }
    }

    public static func format(_ unit: SourceUnit) -> String {
        var out: [String] = []
        var pending = Pending(comments: unit.comments)
        for imp in unit.imports {
            pending.flush(upTo: imp.span.start, pad: "", into: &out)
            out.append("import \"\(imp.path)\"")
        }
        if !unit.imports.isEmpty { out.append("") }
        for (n, k) in unit.kernels.enumerated() {
            if n > 0 { out.append("") }
            pending.flush(upTo: k.span.start, pad: "", into: &out)
            for line in k.doc { out.append(line.isEmpty ? "##" : "## \(line)") }
            out.append("kernel \(k.name.name) {")
            block(k.body, indent: 1, into: &out, &pending)
            pending.flush(upTo: k.span.end - 1, pad: "    ", into: &out)
            out.append("}")
        }
        pending.flush(upTo: Int.max, pad: "", into: &out)
        return out.joined(separator: "\n") + "\n"
    }

    static func block(_ stmts: [Stmt], indent: Int, into out: inout [String], _ pending: inout Pending) {
        let pad = String(repeating: "    ", count: indent)
        for (n, s) in stmts.enumerated() {
            // Keep one blank line where the source separated statements with one or more
            // (after the previous statement's trailing comment).
            pending.flushTrailing(upTo: s.span.start, into: &out)
            if n > 0, blankLineBetween(stmts[n - 1].span, s.span) { out.append("") }
            pending.flush(upTo: s.span.start, pad: pad, into: &out)
            switch s.kind {
            case .forLoop(let parallel, let v, let domain, let body):
                let d: String
                switch domain {
                case .tiles(let a, let b): d = "tiles(\(expr(a)), \(expr(b)))"
                case .range(let a, let b, let c): d = "\(expr(a)) ..< \(expr(b))" + (c.map { " step \(expr($0))" } ?? "")
                }
                out.append(pad + (parallel ? "parallel " : "") + "for \(v.name) in \(d) {")
                block(body, indent: indent + 1, into: &out, &pending)
                pending.flush(upTo: s.span.end - 1, pad: pad + "    ", into: &out)
                out.append(pad + "}")
            case .ifStmt:
                ifChain(s, pad: pad, indent: indent, prefix: "", into: &out, &pending)
            case .repeatLoop(let count, let body):
                out.append(pad + "repeat \(expr(count)) {")
                block(body, indent: indent + 1, into: &out, &pending)
                pending.flush(upTo: s.span.end - 1, pad: pad + "    ", into: &out)
                out.append(pad + "}")
            default:
                out.append(pad + simple(s))
            }
        }
    }

    static func blankLineBetween(_ a: Span, _ b: Span) -> Bool {
        guard a.file === b.file, a.end < b.start else { return false }
        let lines = a.file.text(Span(file: a.file, start: a.end, end: b.start)).split(separator: "\n", omittingEmptySubsequences: false)
        return lines.dropFirst().dropLast().contains { $0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    static func ifChain(_ s: Stmt, pad: String, indent: Int, prefix: String, into out: inout [String], _ pending: inout Pending) {
        guard case .ifStmt(let c, let t, let f) = s.kind else { return }
        if prefix.isEmpty { out.append(pad + "if \(expr(c)) {") } else { out[out.count - 1] += " else if \(expr(c)) {" }
        block(t, indent: indent + 1, into: &out, &pending)
        if let f, let first = f.first { pending.flush(upTo: first.span.start, pad: pad + "    ", into: &out) } else { pending.flush(upTo: s.span.end - 1, pad: pad + "    ", into: &out) }
        out.append(pad + "}")
        guard let f else { return }
        if f.count == 1, case .ifStmt = f[0].kind { ifChain(f[0], pad: pad, indent: indent, prefix: "else", into: &out, &pending); return }
        out[out.count - 1] += " else {"
        block(f, indent: indent + 1, into: &out, &pending)
        pending.flush(upTo: s.span.end - 1, pad: pad + "    ", into: &out)
        out.append(pad + "}")
    }

    static func simple(_ s: Stmt) -> String {
        switch s.kind {
        case .param(let n, let v): return "param \(n.name) = \(expr(v))"
        case .tensor(let role, let n, let shape, let dt, let values):
            return "\(role.rawValue) \(n.name)[\(shape.map(expr).joined(separator: ", "))] \(dt.name)" + (values.map { " = [" + $0.map(expr).joined(separator: ", ") + "]" } ?? "")
        case .load(let t, let r): return "\(t.name) = load \(ref(r))"
        case .gather(let t, let table, let idx): return "\(t.name) = gather \(table.name)[\(expr(idx))]"
        case .scatter(let v, let table, let idx): return "scatter \(expr(v)) -> \(table.name)[\(expr(idx))]"
        case .assign(let t, let v): return "\(t.name) = \(expr(v))"
        case .update(let t, let op, let v): return "\(t.name) \(op.rawValue) \(expr(v))"
        case .store(let v, let r): return "store \(expr(v)) -> \(ref(r))"
        case .free(let ns): return "free \(ns.map(\.name).joined(separator: ", "))"
        case .require(let c, let m): return "require \(expr(c)), \"\(m)\""
        case .launch(let k, let args): return "run \(k.name)(\(args.map { "\($0.name.name) = \(expr($0.value))" + ($0.indices.map { "[" + $0.map(expr).joined(separator: ", ") + "]" } ?? "") }.joined(separator: ", ")))"
        case .autofree: return "autofree"
        case .setting(let k, let c): return "\(k.rawValue) \(expr(c))"
        case .collective(let op, let r, let n): return "\(op.rawValue) \(ref(r)) across \(expr(n))"
        case .forLoop, .ifStmt, .repeatLoop: return ""
        }
    }

    static func ref(_ r: TensorRef) -> String {
        guard let slices = r.slices else { return r.name.name }
        let parts = slices.map { s -> String in
            switch s {
            case .all: return ":"
            case .index(let e): return expr(e)
            case .range(let a, let b): return "\(expr(a)) ..< \(expr(b))"
            }
        }
        return "\(r.name.name)[\(parts.joined(separator: ", "))]"
    }

    public static func expr(_ e: Expr) -> String { expr(e, parent: 0, rightSide: false) }

    static func expr(_ e: Expr, parent: Int, rightSide: Bool) -> String {
        switch e.kind {
        case .int(let v): return String(v)
        case .float(let v):
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            let s = "\(v)"
            return s.contains(".") || s.contains("e") ? s : s + ".0"
        case .bool(let v): return v ? "true" : "false"
        case .name(let n): return n
        case .member(let b, let m): return expr(b, parent: 10, rightSide: false) + "." + m.name
        case .call(let f, let args): return "\(f.name)(\(args.map(expr).joined(separator: ", ")))"
        case .unary(let op, let a): return op.rawValue + expr(a, parent: 9, rightSide: false)
        case .binary(let op, let a, let b):
            let p = op.precedence
            let s = "\(expr(a, parent: p, rightSide: false)) \(op.rawValue) \(expr(b, parent: p, rightSide: true))"
            // Left-associative: a right operand of equal precedence needs parentheses.
            return p < parent || (p == parent && rightSide) ? "(\(s))" : s
        }
    }

    /// The AST without spans, for round-trip comparisons.
    public static func structure(_ unit: SourceUnit) -> String {
        var out = unit.imports.map { "import(\($0.path))" }
        for k in unit.kernels {
            out.append("kernel(\(k.name.name) doc=\(k.doc))")
            structBlock(k.body, into: &out, depth: 1)
        }
        return out.joined(separator: "\n")
    }

    static func structBlock(_ stmts: [Stmt], into out: inout [String], depth: Int) {
        for s in stmts {
            let pad = String(repeating: " ", count: depth)
            switch s.kind {
            case .forLoop(let p, let v, let d, let body):
                switch d {
                case .tiles(let a, let b): out.append(pad + "for(\(p) \(v.name) tiles \(sx(a)) \(sx(b)))")
                case .range(let a, let b, let c): out.append(pad + "for(\(p) \(v.name) range \(sx(a)) \(sx(b)) \(c.map(sx) ?? "-"))")
                }
                structBlock(body, into: &out, depth: depth + 1)
            case .ifStmt(let c, let t, let f):
                out.append(pad + "if(\(sx(c)))")
                structBlock(t, into: &out, depth: depth + 1)
                if let f { out.append(pad + "else"); structBlock(f, into: &out, depth: depth + 1) }
            case .repeatLoop(let c, let body):
                out.append(pad + "repeat(\(sx(c)))")
                structBlock(body, into: &out, depth: depth + 1)
            case .param(let n, let v): out.append(pad + "param(\(n.name) \(sx(v)))")
            case .assign(let n, let v): out.append(pad + "assign(\(n.name) \(sx(v)))")
            case .update(let n, let op, let v): out.append(pad + "update(\(n.name) \(op.rawValue) \(sx(v)))")
            case .store(let v, let r): out.append(pad + "store(\(sx(v)) \(sref(r)))")
            case .load(let n, let r): out.append(pad + "load(\(n.name) \(sref(r)))")
            case .tensor(let role, let n, let shape, let dt, let values): out.append(pad + "tensor(\(role) \(n.name) \(shape.map(sx)) \(dt.name)\(values.map { " = \($0.map(sx))" } ?? ""))")
            case .gather(let n, let t, let i): out.append(pad + "gather(\(n.name) \(t.name) \(sx(i)))")
            case .scatter(let v, let t, let i): out.append(pad + "scatter(\(sx(v)) \(t.name) \(sx(i)))")
            case .free(let ns): out.append(pad + "free(\(ns.map(\.name)))")
            case .require(let c, let m): out.append(pad + "require(\(sx(c)) \(m))")
            case .launch(let k, let args): out.append(pad + "run(\(k.name) \(args.map { "\($0.name.name)=\(sx($0.value))\($0.indices.map { $0.map(sx) } ?? [])" }))")
            case .autofree: out.append(pad + "autofree")
            case .setting(let k, let c): out.append(pad + "\(k.rawValue)(\(sx(c)))")
            case .collective(let op, let r, let n): out.append(pad + "\(op.rawValue)(\(sref(r)) \(sx(n)))")
            }
        }
    }

    static func sref(_ r: TensorRef) -> String {
        guard let s = r.slices else { return r.name.name }
        return r.name.name + "[" + s.map { x -> String in
            switch x { case .all: return ":"; case .index(let e): return sx(e); case .range(let a, let b): return "\(sx(a))..<\(sx(b))" }
        }.joined(separator: ",") + "]"
    }

    static func sx(_ e: Expr) -> String {
        switch e.kind {
        case .int(let v): return "\(v)"
        case .float(let v): return "\(v)f"
        case .bool(let v): return "\(v)"
        case .name(let n): return n
        case .member(let b, let m): return "(. \(sx(b)) \(m.name))"
        case .call(let f, let a): return "(\(f.name) \(a.map(sx).joined(separator: " ")))"
        case .unary(let op, let a): return "(\(op.rawValue) \(sx(a)))"
        case .binary(let op, let a, let b): return "(\(op.rawValue) \(sx(a)) \(sx(b)))"
        }
    }
}
