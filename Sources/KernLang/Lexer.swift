public enum TokenKind: Equatable, Sendable {
    case identifier, integer, float, string, docComment
    case keyword(Keyword)
    case symbol(Symbol)
    case eof
    /// A byte sequence that is not part of the language; the lexer reports it and goes on.
    case invalid
}

public enum Keyword: String, CaseIterable, Sendable {
    case kernel, param, input, output, scratch, weight, cache, `for`, parallel, `in`, step, `if`, `else`
    case load, store, free, require, `import`, run, `repeat`, `true`, `false`, autofree, gather, scatter, allreduce, allgather, target, warps
}

public enum Symbol: String, CaseIterable, Sendable {
    case lparen = "(", rparen = ")", lbracket = "[", rbracket = "]", lbrace = "{", rbrace = "}"
    case comma = ",", colon = ":", semicolon = ";", dot = ".", halfOpen = "..<", arrow = "->"
    case assign = "=", plusAssign = "+=", minusAssign = "-=", starAssign = "*=", slashAssign = "/="
    case maxAssign = "max=", minAssign = "min="
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case plus = "+", minus = "-", star = "*", slash = "/", slashSlash = "//", percent = "%", at = "@"
    case and = "&&", or = "||", not = "!"
}

/// A `# ...` comment: where it starts and whether it stands on a line of its own.
public struct Comment: Sendable {
    public let start: Int
    public let text: String
    public let ownLine: Bool
}

public struct Token: Sendable {
    public let kind: TokenKind
    public let span: Span
    /// True when a line break separates this token from the previous one (statements end at line breaks).
    public let newlineBefore: Bool
    public var text: String { span.file.text(span) }
}

/// Turns bytes into tokens. `#` starts a comment, `##` a doc comment (kept as a token).
/// It never fails: bad bytes become `.invalid` tokens plus a diagnostic.
public struct Lexer {
    let file: SourceFile
    let b: [UInt8]
    var pos = 0
    public private(set) var diagnostics = DiagnosticList()
    /// Plain `#` comments, kept for the formatter.
    public private(set) var comments: [Comment] = []

    public init(file: SourceFile) { self.file = file; self.b = file.bytes }

    public static func tokenize(_ file: SourceFile) -> (tokens: [Token], diagnostics: DiagnosticList) {
        let (toks, diags, _) = tokenizeKeepingComments(file)
        return (toks, diags)
    }

    public static func tokenizeKeepingComments(_ file: SourceFile) -> (tokens: [Token], diagnostics: DiagnosticList, comments: [Comment]) {
        var lx = Lexer(file: file)
        var toks: [Token] = []
        while true {
            let t = lx.next()
            toks.append(t)
            if t.kind == .eof { break }
        }
        return (toks, lx.diagnostics, lx.comments)
    }

    private func peek(_ k: Int = 0) -> UInt8 { pos + k < b.count ? b[pos + k] : 0 }
    private static func isIdentStart(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    mutating func next() -> Token {
        var sawNewline = pos == 0
        // Skip white space and comments; `##` is kept as a doc comment token.
        while pos < b.count {
            let c = b[pos]
            if c == 0x0A { sawNewline = true; pos += 1 }
            else if c == 0x20 || c == 0x09 || c == 0x0D { pos += 1 }
            else if c == 0x23 && peek(1) != 0x23 {
                let start = pos
                while pos < b.count && b[pos] != 0x0A { pos += 1 }
                comments.append(Comment(start: start, text: String(decoding: b[start..<pos], as: UTF8.self), ownLine: sawNewline))
            } else { break }
        }
        let start = pos
        func make(_ k: TokenKind) -> Token { Token(kind: k, span: Span(file: file, start: start, end: pos), newlineBefore: sawNewline) }
        guard pos < b.count else { return make(.eof) }
        let c = b[pos]

        if c == 0x23 {  // `##` doc comment (a single `#` comment was skipped above)
            while pos < b.count && b[pos] != 0x0A { pos += 1 }
            return make(.docComment)
        }
        if Self.isIdentStart(c) {
            while pos < b.count && (Self.isIdentStart(b[pos]) || Self.isDigit(b[pos])) { pos += 1 }
            let word = String(decoding: b[start..<pos], as: UTF8.self)
            if (word == "max" || word == "min") && peek() == 0x3D && peek(1) != 0x3D {
                pos += 1
                return make(.symbol(word == "max" ? .maxAssign : .minAssign))
            }
            if let kw = Keyword(rawValue: word) { return make(.keyword(kw)) }
            return make(.identifier)
        }
        if Self.isDigit(c) || (c == 0x2E && Self.isDigit(peek(1))) {
            var isFloat = false
            while Self.isDigit(peek()) || peek() == 0x5F { pos += 1 }
            if peek() == 0x2E && Self.isDigit(peek(1)) {
                isFloat = true; pos += 1
                while Self.isDigit(peek()) || peek() == 0x5F { pos += 1 }
            }
            if peek() == 0x65 || peek() == 0x45 {
                let save = pos
                pos += 1
                if peek() == 0x2B || peek() == 0x2D { pos += 1 }
                if Self.isDigit(peek()) {
                    isFloat = true
                    while Self.isDigit(peek()) { pos += 1 }
                } else { pos = save }
            }
            if Self.isIdentStart(peek()) {
                while Self.isIdentStart(peek()) || Self.isDigit(peek()) { pos += 1 }
                diagnostics.append(.error("malformed number '\(file.text(Span(file: file, start: start, end: pos)))'", at: Span(file: file, start: start, end: pos)))
                return make(.invalid)
            }
            return make(isFloat ? .float : .integer)
        }
        if c == 0x22 {
            pos += 1
            while pos < b.count && b[pos] != 0x22 && b[pos] != 0x0A {
                if b[pos] == 0x5C { pos += 1 }
                pos += 1
            }
            if pos < b.count && b[pos] == 0x22 { pos += 1; return make(.string) }
            pos = min(pos, b.count)
            diagnostics.append(.error("unterminated string literal", at: Span(file: file, start: start, end: start + 1),
                                      notes: [.init("a string ends with '\"' on the same line")]))
            return make(.invalid)
        }
        // Longest symbol first.
        for len in [4, 3, 2, 1] where pos + len <= b.count {
            let s = String(decoding: b[pos..<pos + len], as: UTF8.self)
            if let sym = Symbol(rawValue: s), sym != .maxAssign, sym != .minAssign {
                pos += len
                return make(.symbol(sym))
            }
        }
        // Unknown byte (or a whole UTF-8 scalar): one diagnostic per run of junk, so binary input stays readable.
        pos += 1
        while pos < b.count && (b[pos] & 0xC0) == 0x80 { pos += 1 }
        let hex = String(c, radix: 16, uppercase: true)
        let what = c >= 0x20 && c < 0x7F ? "character '\(Character(UnicodeScalar(c)))'" : "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
        diagnostics.append(.error("unexpected \(what)", at: Span(file: file, start: start, end: pos)))
        while pos < b.count, !Self.isIdentStart(b[pos]), !Self.isDigit(b[pos]), b[pos] != 0x0A, b[pos] != 0x20,
              Symbol(rawValue: String(decoding: [b[pos]], as: UTF8.self)) == nil { pos += 1 }
        return make(.invalid)
    }
}
