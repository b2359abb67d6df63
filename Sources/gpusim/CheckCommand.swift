import ArgumentParser
import Foundation
import KernLang
import Simulator

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check .kern files for lexical, syntax, name, kind and dtype errors.",
        discussion: prose("""
        With --run, each kernel is also run at its default parameters (shape-only) so that
        shape and range errors are found too.
        Examples:
          gpusim check Kernels/*.kern
          gpusim check --run --gpu seed-a100 Kernels/flash_attention.kern
        """))

    @Argument(help: "The .kern files.")
    var files: [String]

    @Flag(name: .customLong("run"), help: "Also run each kernel at its defaults to find shape and range errors.")
    var runKernels = false

    @OptionGroup var gpuOptions: GPUOptions

    @Flag(help: "Print the diagnostics as a JSON array on standard output.")
    var json = false

    func run() throws {
        var failed = 0
        var all: [Diagnostic] = []
        let gpu = try gpuOptions.model()
        for path in files {
            do {
                switch try Runner.load(path) {
                case .failure(let d):
                    all += d.sorted
                    if !json { _ = failDiagnostics(d) }
                    failed += 1
                case .success(let program):
                    if runKernels { _ = try Runner.run(program, options: RunOptions(gpu: gpu, maxEvents: nil, timeoutSeconds: 60)) }
                }
            } catch {
                if case .kernel(let d) = error { all.append(d) } else { all.append(.error(error.description.replacingOccurrences(of: "gpusim: error: ", with: ""), at: nil)) }
                if !json { _ = failRun(error) }
                failed += 1
            }
        }
        if json {
            let items = all.map { d -> [String: String] in
                var o = ["severity": d.severity.rawValue, "message": d.message]
                if let s = d.span { o["file"] = s.file.path; o["line"] = "\(s.line)"; o["column"] = "\(s.column)" }
                if !d.notes.isEmpty { o["notes"] = d.notes.map(\.message).joined(separator: "; ") }
                return o
            }
            try printJSON(items)
        }
        if failed > 0 { throw ExitCode(1) }
        if !json { print("\(files.count) file\(files.count == 1 ? "" : "s") checked, no errors") }
    }
}
