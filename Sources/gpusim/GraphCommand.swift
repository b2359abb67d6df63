import Analysis
import ArgumentParser
import Foundation
import KernLang
import Render
import Simulator

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw a kernel's dataflow graph (HBM tensors, SRAM tiles, operations, loops) with Graphviz.",
        discussion: prose("""
        From a kernel the graph comes from a run at the given parameters; from a JSONL trace it is
        aggregated from the recorded events (the kernel file named in the trace gives the structure).
        Examples:
          gpusim graph Kernels/flash_attention.kern --N 2048 -o flash.svg
          gpusim graph flash.jsonl -o flash.pdf
          gpusim graph Kernels/attention_2d.kern --format dot
        """))

    @Argument(help: "A .kern file or a JSONL trace.")
    var input: String

    @Option(name: .shortAndLong, help: "Output file (format from its extension); standard output when omitted.")
    var output: String?

    @Option(help: "svg, png, pdf or dot (the generated DOT text).")
    var format: String?

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let fmt = format ?? output.map { ($0 as NSString).pathExtension.lowercased() } ?? "svg"
        guard Graphviz.formats.contains(fmt) else {
            throw ValidationError("--format: expected svg, png, pdf or dot, got '\(fmt)'")
        }
        if fmt == "png" || fmt == "pdf", output == nil { throw ValidationError("\(fmt) output needs -o FILE") }
        let profile = StatementProfile()
        let program: CheckedProgram
        let title: String
        if TraceReader.looksLikeTrace(input) {
            if !params.isEmpty { throw ValidationError("parameters cannot be given with a trace; they were fixed when it was recorded") }
            let trace: TraceReader.Trace
            do { trace = try TraceReader.read(input, into: profile) } catch {
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
            if let m = trace.summary.measured {
                printError("gpusim: error: '\(input)' is a measured trace (\(m.tool)): it has launches but no statements, so no dataflow to draw; graph the kernel that models it, and compare the two with gpusim diff")
                throw ExitCode(1)
            }
            // The kernel as recorded; a relative path that is not here may be beside the trace.
            let besideTrace = ((input as NSString).deletingLastPathComponent as NSString).appendingPathComponent(trace.file)
            let file = !trace.file.hasPrefix("/") && !FileManager.default.fileExists(atPath: trace.file)
                && FileManager.default.fileExists(atPath: besideTrace) ? besideTrace : trace.file
            program = try loadProgram(file, entry: trace.kernel)
            title = DataflowGraph.title(trace.summary)
        } else {
            let overrides = try parseKernelParams(params)
            let gpu = try gpuOptions.model()
            program = try loadProgram(input)
            let summary: RunSummary
            do { summary = try Runner.run(program, options: RunOptions(gpu: gpu, overrides: overrides, cache: gpuOptions.cache), extraSink: profile) } catch { throw failRun(error) }
            title = DataflowGraph.title(summary)
        }
        let dot = DotWriter.dot(DataflowGraph(program: program, profile: profile, title: title))
        let data: Data
        if fmt == "dot" { data = Data(dot.utf8) } else {
            do { data = try Graphviz.render(dot: dot, format: fmt) } catch {
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
        }
        if let output {
            try writeFile(output, data)
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}
