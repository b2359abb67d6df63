import Foundation
import Testing
@testable import KernLang
import TestSupport

func source(_ relative: String) throws -> SourceFile { try readRelative(relative) }

func kinds(_ text: String) -> [TokenKind] {
    Lexer.tokenize(SourceFile(path: "t.kern", text: text)).tokens.map(\.kind)
}

@Suite struct LexerTests {
    @Test func tokensOfAStatement() {
        #expect(kinds("S = Qi @ Kj.T  # scores") == [.identifier, .symbol(.assign), .identifier, .symbol(.at), .identifier, .symbol(.dot), .identifier, .eof])
        #expect(kinds("mn max= mt") == [.identifier, .symbol(.maxAssign), .identifier, .eof])
        #expect(kinds("max(a, b)") == [.identifier, .symbol(.lparen), .identifier, .symbol(.comma), .identifier, .symbol(.rparen), .eof])
        #expect(kinds("0 ..< N step 2") == [.integer, .symbol(.halfOpen), .identifier, .keyword(.step), .integer, .eof])
        #expect(kinds("1.5e-3 7 N // 2") == [.float, .integer, .identifier, .symbol(.slashSlash), .integer, .eof])
        #expect(kinds("## doc\nkernel") == [.docComment, .keyword(.kernel), .eof])
    }

    @Test func newlinesAreRecorded() {
        let toks = Lexer.tokenize(SourceFile(path: "t", text: "a = 1\nb")).tokens
        #expect(toks.map(\.newlineBefore) == [true, false, false, true, false])
    }

    @Test func locationsCountUTF8Bytes() {
        let f = SourceFile(path: "t", text: "# héllo\nparam x = 1")
        let (line, col) = f.location(of: f.bytes.firstIndex(of: UInt8(ascii: "x"))!)
        #expect(line == 2 && col == 7)
        #expect(f.lineText(1) == "# héllo")
    }

    @Test func junkIsReportedNotFatal() {
        var bytes: [UInt8] = []
        var state: UInt64 = 12345
        for _ in 0..<100_000 { state = state &* 6364136223846793005 &+ 1442695040888963407; bytes.append(UInt8(truncatingIfNeeded: state >> 33)) }
        let f = SourceFile(path: "junk", text: String(decoding: bytes, as: UTF8.self))
        let (tokens, diags) = Lexer.tokenize(f)
        #expect(tokens.last?.kind == .eof)
        #expect(diags.hasErrors)
        let (_, pd) = Parser.parse(f)
        #expect(pd.hasErrors)
    }
}

@Suite struct ParserTests {
    @Test func precedence() throws {
        var p = Parser(file: SourceFile(path: "t", text: "a + b * c @ d - e"))
        let e = try p.parseExpr()
        #expect(Formatter.sx(e) == "(- (+ a (* b (@ c d))) e)")
    }

    @Test func operatorOnNewLineStartsAStatement() {
        let (_, d) = Parser.parse(SourceFile(path: "t", text: "kernel k {\n    param N = 4\n    - N\n}\n"))
        #expect(d.items.count == 1)
        #expect(d.items.first?.message == "expected a statement near '-'")
    }

    @Test func recoversAndReportsEveryStatementError() {
        let text = "kernel k {\n    param a = \n    param b = 1\n    param c = )\n    param d = 2 3\n}\n"
        let (unit, d) = Parser.parse(SourceFile(path: "t", text: text))
        #expect(d.items.map { $0.span!.line } == [3, 4, 5])
        #expect(unit.kernels.count == 1)
    }

    @Test func tenThousandNestedBracketsGetADiagnostic() {
        let text = "kernel k {\n    param N = " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000) + "\n}\n"
        let (_, d) = Parser.parse(SourceFile(path: "t", text: text))
        #expect(d.items.first?.message.contains("nested too deeply") == true)
        let blocks = "kernel k {\n" + String(repeating: "if true {\n", count: 10_000) + String(repeating: "}\n", count: 10_000) + "}\n"
        let (_, d2) = Parser.parse(SourceFile(path: "t", text: blocks))
        #expect(d2.items.first?.message.contains("nested too deeply") == true)
    }

    @Test func tenMegabyteFileParses() {
        var text = "kernel k {\n"
        let line = "    param p_LINE = 1 + 2 * 3\n"
        var n = 0
        while text.utf8.count < 10_000_000 { text += line.replacingOccurrences(of: "LINE", with: String(n)); n += 1 }
        text += "}\n"
        let (unit, d) = Parser.parse(SourceFile(path: "big", text: text))
        #expect(!d.hasErrors)
        #expect(unit.kernels.first?.body.count == n)
    }

    @Test(arguments: shippedKernels())
    func formatterRoundTrips(_ path: String) throws {
        let f = try source(path)
        let (unit, d) = Parser.parse(f)
        #expect(!d.hasErrors, "\(d)")
        let formatted = Formatter.format(unit)
        let (again, d2) = Parser.parse(SourceFile(path: path, text: formatted))
        #expect(!d2.hasErrors, "\(d2)")
        #expect(Formatter.structure(again) == Formatter.structure(unit))
        // Canonical: formatting is idempotent, and every comment survives.
        #expect(Formatter.format(again) == formatted)
        #expect(again.comments.map(\.text) == unit.comments.map(\.text))
        // ... and stays where it was: trailing comments on their statement's line.
        #expect(again.comments.map(\.ownLine) == unit.comments.map(\.ownLine))
    }
}

@Suite struct CheckerTests {
    func check(_ text: String) -> Result<CheckedProgram, DiagnosticList> {
        Checker.check(file: SourceFile(path: "t.kern", text: text)) { _, _ in nil }
    }

    @Test(arguments: shippedKernels())
    func shippedKernelsCheck(_ path: String) throws {
        let f = try source(path)
        let r = Checker.check(file: f) { imp, from in
            let dir = (from.path as NSString).deletingLastPathComponent
            return try? source(dir.isEmpty ? imp : dir + "/" + imp)
        }
        if case .failure(let d) = r { Issue.record("\(d)") }
    }

    @Test func autofreePlacesFreesAfterLastUse() throws {
        let r = check("kernel k {\n    autofree\n    a = zeros(2, 2)\n    b = a * 2\n    c = b + 1\n}\n")
        let p = try r.get()
        let stmts = p.entryKernel.body.stmts
        #expect(stmts.map(\.freeAfter) == [[], [0], [1, 2]])
    }

    @Test func tilesAreFreedAtBlockEndByDefault() throws {
        let p = try check("kernel k {\n    for i in 0 ..< 2 {\n        a = zeros(2, 2)\n    }\n}\n").get()
        guard case .loop(_, _, _, _, let body, _) = p.entryKernel.body.stmts[0].kind else { Issue.record("not a loop"); return }
        #expect(body.locals.count == 1)
        #expect(body.stmts.allSatisfy { $0.freeAfter.isEmpty })
    }

    @Test func entryKernelFollowsTheFileName() throws {
        let text = "kernel helper {\n    param N = 1\n}\nkernel main {\n    run helper(N = 2)\n}\n"
        let p = try Checker.check(file: SourceFile(path: "x/helper.kern", text: text)) { _, _ in nil }.get()
        #expect(p.entryKernel.name == "helper")
        let q = try Checker.check(file: SourceFile(path: "x/other.kern", text: text)) { _, _ in nil }.get()
        #expect(q.entryKernel.name == "main")
    }

    @Test func closestNameSuggestions() {
        #expect(closestName(to: "Bx", in: ["Br", "N", "d"]) == "Br")
        #expect(closestName(to: "sqrtt", in: Builtin.allCases.map(\.rawValue)) == "sqrt")
        #expect(closestName(to: "zzzzzz", in: ["N", "d"]) == nil)
    }

    @Test func diagnosticRendering() {
        let f = SourceFile(path: "a.kern", text: "kernel k {\n    param N = Bx\n}\n")
        let start = 25
        let d = Diagnostic.error("unknown name 'Bx'", at: Span(file: f, start: start, end: start + 2), notes: [.init("did you mean 'Br'?")])
        #expect(d.render() == "a.kern:2:15: error: unknown name 'Bx'\n    param N = Bx\n              ^~\nnote: did you mean 'Br'?")
    }
}
