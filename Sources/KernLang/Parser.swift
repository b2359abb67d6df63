/// Handwritten recursive-descent parser with one token of lookahead.
/// On a syntax error it reports, skips to the next statement boundary and goes on,
/// so one run shows every independent error.
public struct Parser {
    private var tokens: [Token]
    private var i = 0
    private var depth = 0
    public private(set) var diagnostics: DiagnosticList
    private let file: SourceFile
    static let maxDepth = 200

    private struct Bail: Error {}

    private var comments: [Comment] = []

    public init(file: SourceFile) {
        let (toks, diags, comments) = Lexer.tokenizeKeepingComments(file)
        self.file = file
        self.tokens = toks
        self.diagnostics = diags
        self.comments = comments
    }

    public static func parse(_ file: SourceFile) -> (SourceUnit, DiagnosticList) {
        var p = Parser(file: file)
        let unit = p.parseUnit()
        return (unit, p.diagnostics)
    }

    // MARK: token helpers
    private var tok: Token { tokens[i] }
    private var atEnd: Bool { tok.kind == .eof }
    private mutating func advance() -> Token {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }
    private func isSym(_ s: Symbol) -> Bool { tok.kind == .symbol(s) }
    private func isKw(_ k: Keyword) -> Bool { tok.kind == .keyword(k) }
    private mutating func accept(_ s: Symbol) -> Bool { if isSym(s) { _ = advance(); return true }; return false }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of file"
        case .docComment: return "doc comment"
        default:
            let text = t.text
            return text.count > 24 ? "'\(text.prefix(24))...'" : "'\(text)'"
        }
    }

    private mutating func fail(_ message: String, at span: Span? = nil, notes: [Diagnostic.Note] = []) -> Bail {
        // An invalid token was already reported by the lexer: a second error about it is noise.
        if tok.kind != .invalid { diagnostics.append(.error(message, at: span ?? tok.span, notes: notes)) }
        return Bail()
    }
    private mutating func expect(_ s: Symbol, _ what: String? = nil) throws -> Token {
        if isSym(s) { return advance() }
        throw fail("expected \(what ?? "'\(s.rawValue)'") near \(describe(tok))")
    }
    private mutating func expectIdent(_ what: String) throws -> Ident {
        guard tok.kind == .identifier else {
            if case .keyword(let k) = tok.kind {
                throw fail("expected \(what), found keyword '\(k.rawValue)'", notes: [.init("keywords cannot be used as names")])
            }
            throw fail("expected \(what) near \(describe(tok))")
        }
        let t = advance()
        return Ident(t.text, t.span)
    }
    private func span(from start: Span) -> Span { Span(file: file, start: start.start, end: tokens[max(0, i - 1)].span.end) }

    // MARK: file level
    mutating func parseUnit() -> SourceUnit {
        var imports: [Import] = []
        var kernels: [Kernel] = []
        var doc: [String] = []
        while !atEnd {
            let before = i
            do {
                switch tok.kind {
                case .docComment:
                    let text = advance().text.dropFirst(2)
                    doc.append(String(text.first == " " ? text.dropFirst() : text))
                case .keyword(.import):
                    let start = advance().span
                    guard tok.kind == .string else { throw fail("expected a file path in quotes after 'import'") }
                    let s = advance()
                    imports.append(Import(path: String(s.text.dropFirst().dropLast()), span: start.to(s.span)))
                    doc = []
                case .keyword(.kernel):
                    kernels.append(try parseKernel(doc: doc))
                    doc = []
                default:
                    throw fail("expected 'kernel' or 'import' at top level near \(describe(tok))")
                }
            } catch {
                // Skip to the next top-level item.
                if i == before { _ = advance() }
                while !atEnd && !isKw(.kernel) && !isKw(.import) { _ = advance() }
                doc = []
            }
        }
        return SourceUnit(file: file, imports: imports, kernels: kernels, comments: comments)
    }

    private mutating func parseKernel(doc: [String]) throws -> Kernel {
        let start = advance().span
        let name = try expectIdent("a kernel name")
        _ = try expect(.lbrace, "'{' to open the kernel body")
        let body = parseBlockBody(opening: start)
        return Kernel(name: name, doc: doc, body: body, span: span(from: start))
    }

    /// Statements up to the matching `}` (consumed). Recovers from errors statement by statement.
    private mutating func parseBlockBody(opening: Span) -> [Stmt] {
        var stmts: [Stmt] = []
        while !isSym(.rbrace) {
            if atEnd {
                diagnostics.append(.error("expected '}' before end of file", at: tok.span,
                                          notes: [.init("to match this block", at: opening)]))
                return stmts
            }
            let before = i
            do {
                if tok.kind == .docComment { _ = advance(); continue }
                let s = try parseStatement()
                stmts.append(s)
                if !(isSym(.rbrace) || atEnd || tok.newlineBefore || accept(.semicolon)) {
                    // `q = lod Q[i, :]`: a misspelt keyword reads as a name followed by more.
                    let prev = tokens[i - 1]
                    if prev.kind == .identifier, let k = closestName(to: prev.text, in: Keyword.allCases.map(\.rawValue)) {
                        throw fail("unknown word '\(prev.text)' before \(describe(tok))", at: prev.span, notes: [.init("did you mean the keyword '\(k)'?")])
                    }
                    throw fail("expected a line break or ';' after the statement, found \(describe(tok))")
                }
            } catch {
                recoverToStatementBoundary(from: before)
            }
        }
        _ = advance()
        return stmts
    }

    /// Panic mode: skip to the start of the next line (or a brace), always making progress.
    private mutating func recoverToStatementBoundary(from before: Int) {
        if i == before { _ = advance() }
        var nesting = 0
        while !atEnd {
            if isSym(.lbrace) { nesting += 1 }
            if isSym(.rbrace) {
                if nesting == 0 { return }
                nesting -= 1
                _ = advance()
                if nesting == 0 { return }
                continue
            }
            if nesting == 0 && tok.newlineBefore { return }
            _ = advance()
        }
    }

    private mutating func parseBlock() throws -> [Stmt] {
        let open = try expect(.lbrace, "'{'")
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw fail("blocks nested too deeply (more than \(Self.maxDepth))") }
        return parseBlockBody(opening: open.span)
    }

    // MARK: statements
    private mutating func parseStatement() throws -> Stmt {
        let start = tok.span
        switch tok.kind {
        case .keyword(.param):
            _ = advance()
            let name = try expectIdent("a parameter name")
            _ = try expect(.assign, "'=' and a default value")
            let value = try parseExpr()
            return Stmt(.param(name, value), span(from: start))
        case .keyword(.input), .keyword(.output), .keyword(.scratch), .keyword(.weight), .keyword(.cache):
            let role = TensorRole(rawValue: advance().text)!
            let name = try expectIdent("a tensor name")
            _ = try expect(.lbracket, "'[' and the tensor's shape")
            var shape: [Expr] = []
            repeat { shape.append(try parseExpr()) } while accept(.comma)
            _ = try expect(.rbracket, "']' or ',' in the shape")
            let dtype = try expectIdent("a dtype (f32, f16, bf16, f8, i8, i4)")
            // `= [1, 4, 2, 5, 3]`: the elements in row-major order.
            var values: [Expr]?
            if accept(.assign) {
                _ = try expect(.lbracket, "'[' and the tensor's values")
                var vs: [Expr] = []
                if !isSym(.rbracket) { repeat { vs.append(try parseExpr()) } while accept(.comma) }
                _ = try expect(.rbracket, "']' or ',' in the values")
                values = vs
            }
            return Stmt(.tensor(role, name, shape: shape, dtype: dtype, values: values), span(from: start))
        case .keyword(.parallel), .keyword(.for):
            let parallel = isKw(.parallel)
            if parallel {
                _ = advance()
                guard isKw(.for) else { throw fail("expected 'for' after 'parallel'") }
            }
            _ = advance()
            let variable = try expectIdent("a loop variable")
            guard isKw(.in) else { throw fail("expected 'in' after the loop variable") }
            _ = advance()
            let domain: LoopDomain
            if tok.kind == .identifier && tok.text == "tiles" && tokens[i + 1].kind == .symbol(.lparen) {
                _ = advance(); _ = advance()
                let extent = try parseExpr()
                _ = try expect(.comma, "',' between the extent and the tile size in tiles(EXTENT, SIZE)")
                let size = try parseExpr()
                _ = try expect(.rparen)
                domain = .tiles(extent: extent, size: size)
            } else {
                let from = try parseExpr()
                _ = try expect(.halfOpen, "'..<' in the loop range (or tiles(EXTENT, SIZE))")
                let to = try parseExpr()
                var step: Expr?
                if isKw(.step) { _ = advance(); step = try parseExpr() }
                domain = .range(from: from, to: to, step: step)
            }
            let body = try parseBlock()
            return Stmt(.forLoop(parallel: parallel, variable: variable, domain: domain, body: body), span(from: start))
        case .keyword(.if):
            return try parseIf()
        case .keyword(.store):
            _ = advance()
            let value = try parseExpr()
            _ = try expect(.arrow, "'->' and the destination tensor")
            let ref = try parseTensorRef()
            return Stmt(.store(value, ref), span(from: start))
        case .keyword(.allreduce), .keyword(.allgather):
            let op: Collective = advance().kind == .keyword(.allreduce) ? .allreduce : .allgather
            let ref = try parseTensorRef()
            guard tok.kind == .identifier, tok.text == "across" else { throw fail("expected 'across' and the number of GPUs (\(op.rawValue) y across tp)") }
            _ = advance()
            return Stmt(.collective(op, ref, gpus: try parseExpr()), span(from: start))
        case .keyword(.scatter):
            _ = advance()
            let value = try parseExpr()
            _ = try expect(.arrow, "'->' and the table to add into")
            let table = try expectIdent("a tensor to scatter into")
            _ = try expect(.lbracket, "'[' and an index tile")
            let index = try parseExpr()
            _ = try expect(.rbracket)
            return Stmt(.scatter(value, table: table, index: index), span(from: start))
        case .keyword(.free):
            _ = advance()
            var names: [Ident] = []
            repeat { names.append(try expectIdent("a tile name")) } while accept(.comma)
            return Stmt(.free(names), span(from: start))
        case .keyword(.target), .keyword(.warps):
            let setting: KernelSetting = isKw(.target) ? .target : .warps
            _ = advance()
            if tok.newlineBefore || isSym(.rbrace) || atEnd { throw fail("expected \(setting.meaning) after '\(setting.rawValue)'", at: span(from: start)) }
            return Stmt(.setting(setting, try parseExpr()), span(from: start))
        case .keyword(.require):
            _ = advance()
            let cond = try parseExpr()
            _ = try expect(.comma, "',' and a message in quotes")
            guard tok.kind == .string else { throw fail("expected a message in quotes") }
            let msg = String(advance().text.dropFirst().dropLast())
            return Stmt(.require(cond, message: msg), span(from: start))
        case .keyword(.repeat):
            _ = advance()
            let count = try parseExpr()
            let body = try parseBlock()
            return Stmt(.repeatLoop(count: count, body: body), span(from: start))
        case .keyword(.run):
            _ = advance()
            let name = try expectIdent("a kernel name")
            _ = try expect(.lparen)
            var args: [NamedArg] = []
            if !isSym(.rparen) {
                repeat {
                    let n = try expectIdent("an argument name (NAME = value)")
                    _ = try expect(.assign, "'=' after the argument name")
                    if tok.kind == .identifier, tokens[i + 1].kind == .symbol(.lbracket), !tokens[i + 1].newlineBefore {
                        let t = advance()
                        _ = advance()
                        var indices: [Expr] = []
                        repeat { indices.append(try parseExpr()) } while accept(.comma)
                        _ = try expect(.rbracket, "']' after the view's indices")
                        args.append(NamedArg(name: n, value: Expr(.name(t.text), t.span), indices: indices))
                    } else {
                        args.append(NamedArg(name: n, value: try parseExpr(), indices: nil))
                    }
                } while accept(.comma)
            }
            _ = try expect(.rparen, "')' or ',' in the argument list")
            return Stmt(.launch(name, args), span(from: start))
        case .keyword(.autofree):
            _ = advance()
            return Stmt(.autofree, start)
        case .identifier:
            let target = try expectIdent("a name")
            if case .symbol(let s) = tok.kind, let op = UpdateOp(rawValue: s.rawValue) {
                _ = advance()
                return Stmt(.update(target, op, try parseExpr()), span(from: start))
            }
            _ = try expect(.assign, "'=' or an update (+=, -=, *=, /=, max=, min=) after '\(target.name)'")
            if isKw(.load) {
                _ = advance()
                return Stmt(.load(target, try parseTensorRef()), span(from: start))
            }
            if isKw(.gather) {
                _ = advance()
                let table = try expectIdent("a tensor to gather from")
                _ = try expect(.lbracket, "'[' and an index tile")
                let index = try parseExpr()
                _ = try expect(.rbracket)
                return Stmt(.gather(target, table: table, index: index), span(from: start))
            }
            return Stmt(.assign(target, try parseExpr()), span(from: start))
        case .keyword(let k):
            throw fail("'\(k.rawValue)' cannot start a statement")
        default:
            throw fail("expected a statement near \(describe(tok))")
        }
    }

    private mutating func parseIf() throws -> Stmt {
        let start = advance().span
        let cond = try parseExpr()
        let then = try parseBlock()
        var otherwise: [Stmt]?
        if isKw(.else) {
            _ = advance()
            if isKw(.if) { otherwise = [try parseIf()] } else { otherwise = try parseBlock() }
        }
        return Stmt(.ifStmt(cond, then: then, else: otherwise), span(from: start))
    }

    private mutating func parseTensorRef() throws -> TensorRef {
        let name = try expectIdent("a tensor name")
        guard isSym(.lbracket) && !tok.newlineBefore else { return TensorRef(name: name, slices: nil, span: name.span) }
        _ = advance()
        var slices: [SliceExpr] = []
        repeat {
            if isSym(.colon) { slices.append(.all(advance().span)); continue }
            let a = try parseExpr()
            if accept(.halfOpen) { slices.append(.range(a, try parseExpr())) } else { slices.append(.index(a)) }
        } while accept(.comma)
        _ = try expect(.rbracket, "']' or ',' in the slice")
        return TensorRef(name: name, slices: slices, span: span(from: name.span))
    }

    // MARK: expressions (precedence climbing)
    public mutating func parseExpr() throws -> Expr { try parseBinary(minPrecedence: 1) }

    private mutating func parseBinary(minPrecedence: Int) throws -> Expr {
        var lhs = try parseUnary()
        // An operator that starts a new line begins a new statement, not a continuation.
        while case .symbol(let s) = tok.kind, !tok.newlineBefore, let op = BinaryOp(rawValue: s.rawValue), op.precedence >= minPrecedence {
            _ = advance()
            let rhs = try parseBinary(minPrecedence: op.precedence + 1)
            lhs = Expr(.binary(op, lhs, rhs), lhs.span.to(rhs.span))
        }
        return lhs
    }

    private mutating func parseUnary() throws -> Expr {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw fail("expression nested too deeply (more than \(Self.maxDepth) levels)") }
        if isSym(.minus) || isSym(.not) {
            let t = advance()
            let operand = try parseUnary()
            return Expr(.unary(t.kind == .symbol(.minus) ? .neg : .not, operand), t.span.to(operand.span))
        }
        return try parsePostfix()
    }

    private mutating func parsePostfix() throws -> Expr {
        var e = try parsePrimary()
        while isSym(.dot) {
            _ = advance()
            let member = try expectIdent("a member name after '.'")
            e = Expr(.member(e, member), e.span.to(member.span))
        }
        return e
    }

    private mutating func parsePrimary() throws -> Expr {
        let t = tok
        switch t.kind {
        case .integer:
            _ = advance()
            guard let v = Int64(t.text.replacingOccurrences("_", "")) else {
                throw fail("integer literal \(t.text) is too large (the limit is \(Int64.max))", at: t.span)
            }
            return Expr(.int(v), t.span)
        case .float:
            _ = advance()
            return Expr(.float(Double(t.text.replacingOccurrences("_", "")) ?? .nan), t.span)
        case .keyword(.true), .keyword(.false):
            _ = advance()
            return Expr(.bool(t.kind == .keyword(.true)), t.span)
        case .identifier:
            _ = advance()
            if isSym(.lparen) && !tok.newlineBefore {
                _ = advance()
                var args: [Expr] = []
                if !isSym(.rparen) {
                    repeat { args.append(try parseExpr()) } while accept(.comma)
                }
                _ = try expect(.rparen, "')' or ',' in the call to \(t.text)")
                return Expr(.call(Ident(t.text, t.span), args), span(from: t.span))
            }
            return Expr(.name(t.text), t.span)
        case .symbol(.lparen):
            _ = advance()
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maxDepth { throw fail("expression nested too deeply (more than \(Self.maxDepth) levels)") }
            let e = try parseExpr()
            _ = try expect(.rparen, "')'")
            return Expr(e.kind, span(from: t.span))
        default:
            throw fail("expected an expression near \(describe(t))")
        }
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: String) -> String { String(self.filter { $0 != a }) }
}
