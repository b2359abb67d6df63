/// A diagnostic is data; `render()` turns it into the clang-style text users expect.
public struct Diagnostic: Error, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, note }
    public struct Note: Sendable {
        public let message: String
        public let span: Span?
        public init(_ message: String, at span: Span? = nil) { self.message = message; self.span = span }
    }

    public let severity: Severity
    public let message: String
    public let span: Span?
    public var notes: [Note]

    public init(_ severity: Severity = .error, _ message: String, at span: Span?, notes: [Note] = []) {
        self.severity = severity; self.message = message; self.span = span; self.notes = notes
    }

    public static func error(_ message: String, at span: Span?, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.error, message, at: span, notes: notes)
    }

    public var description: String { render() }

    /// `file:line:col: error: message`, the source line, and `^~~~` under the span; then the notes.
    public func render(color: Bool = false) -> String {
        var out = Self.header(severity.rawValue, message, span, color: color)
        for note in notes { out += "\n" + Self.header("note", note.message, note.span, color: color) }
        return out
    }

    private static func header(_ kind: String, _ message: String, _ span: Span?, color: Bool) -> String {
        let paint: (String, String) -> String = { code, s in color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        let kindColor = kind == "error" ? "1;31" : kind == "warning" ? "1;35" : "1;36"
        guard let span else { return (kind == "note" ? "" : "gpusim: ") + "\(paint(kindColor, kind + ":")) \(message)" }
        let (line, col) = span.file.location(of: span.start)
        var out = "\(span.file.path):\(line):\(col): \(paint(kindColor, kind + ":")) \(message)"
        let text = span.file.lineText(line)
        // Keep the excerpt printable and short: binary junk or a 10 MB line must not flood the terminal.
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        guard printable.utf8.count <= 400 else { return out }
        let lineEndOffset = span.file.lineStarts[line - 1] + text.utf8.count
        let width = max(1, min(span.end, lineEndOffset) - span.start)
        out += "\n" + printable + "\n" + String(repeating: " ", count: col - 1)
            + paint("1;32", "^" + String(repeating: "~", count: width - 1))
        return out
    }
}

/// Collected diagnostics, kept in source order.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var items: [Diagnostic]
    public init(_ items: [Diagnostic] = []) { self.items = items }
    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public mutating func append(_ d: Diagnostic) { items.append(d) }
    public var sorted: [Diagnostic] {
        items.enumerated().sorted { a, b in
            let (x, y) = (a.element.span, b.element.span)
            if let x, let y, x.file === y.file, x.start != y.start { return x.start < y.start }
            return a.offset < b.offset
        }.map(\.element)
    }
    public var description: String { sorted.map { $0.render() }.joined(separator: "\n") }
}

/// Suggest a near name for `did you mean` notes (Levenshtein distance, small names only).
/// Levenshtein distance: insertions, deletions and substitutions of characters.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var prev = Array(0...b.count)
    for (i, ca) in a.enumerated() {
        var cur = [i + 1] + Array(repeating: 0, count: b.count)
        for (j, cb) in b.enumerated() {
            cur[j + 1] = min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
public func closestName(to name: String, in candidates: some Sequence<String>) -> String? {
    let a = name.lowercased()
    let limit = max(1, min(3, name.count / 3 + (name.count <= 2 ? 1 : 0)))
    // Ranked by distance, then distance with case, then the longer common prefix, then the
    // candidates' order.
    var best: (name: String, key: (Int, Int, Int))?
    for c in candidates where c != name {
        let d = editDistance(a, c.lowercased())
        guard d <= limit else { continue }
        let prefix = zip(name, c).prefix { $0 == $1 }.count
        let key = (d, editDistance(name, c), -prefix)
        if best == nil || key < best!.key { best = (c, key) }
    }
    return best?.name
}
