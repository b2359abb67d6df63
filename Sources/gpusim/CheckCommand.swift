import ArgumentParser
import KernLang
import Simulator

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check .kern files for lexical, syntax, name, kind and dtype errors.",
        discussion: """
        With --run, each kernel is also run at its default parameters (shape-only) so that
        shape and range errors are found too.
        Examples:
          gpusim check Kernels/*.kern
          gpusim check --run --gpu seed-a100 Kernels/flash_attention.kern
        """)

    @Argument(help: "The .kern files.")
    var files: [String]

    @Flag(name: .customLong("run"), help: "Also run each kernel at its defaults to find shape and range errors.")
    var runKernels = false

    @OptionGroup var gpuOptions: GPUOptions

    func run() throws {
        var failed = 0
        let gpu = try gpuOptions.model()
        for path in files {
            do {
                switch try Runner.load(path) {
                case .failure(let d): _ = failDiagnostics(d); failed += 1
                case .success(let program):
                    if runKernels { _ = try Runner.run(program, options: RunOptions(gpu: gpu, maxEvents: nil, timeoutSeconds: 60)) }
                }
            } catch {
                _ = failRun(error); failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
        print("\(files.count) file\(files.count == 1 ? "" : "s") checked, no errors")
    }
}
