import ArgumentParser
import Foundation
import KernLang
import Simulator

struct FmtCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fmt",
        abstract: "Print a .kern file in canonical form (or rewrite it with --write).",
        discussion: "Comments are kept: a comment on its own line stays before its statement, a trailing one after it; ## doc comments stay above their kernel. Single blank lines between statement groups are kept.")

    @Argument(help: "The .kern file.")
    var file: String

    @Flag(help: "Rewrite the file in place instead of printing.")
    var write = false

    func run() throws {
        let source: SourceFile
        do { source = try Runner.readSource(file) } catch { throw failRun(error) }
        let (unit, diags) = Parser.parse(source)
        if diags.hasErrors { throw failDiagnostics(diags) }
        let text = Formatter.format(unit)
        if write {
            try writeFile(file, text)
        } else {
            print(text, terminator: "")
        }
    }
}
