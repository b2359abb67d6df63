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
        A model (a kernel that launches others) is drawn a node per launch: time, share of the
        run, DRAM bytes and bound, loops with their trip counts, the tensors one launch hands to
        the next; --level statements draws its statements instead.
        Examples:
          gpusim graph Kernels/flash_attention.kern --N 2048 -o flash.svg
          gpusim graph Kernels/models/gpt2_small.kern -o gpt2.svg
          gpusim graph flash.jsonl -o flash.pdf
          gpusim graph Kernels/attention_2d.kern --format dot
        """))

    @Argument(help: "A .kern file or a JSONL trace.")
    var input: String

    @Option(name: .shortAndLong, help: "Output file (format from its extension); standard output when omitted.")
    var output: String?

    @Option(help: "svg, png, pdf or dot (the generated DOT text).")
    var format: String?

    @Option(help: "model (a node per launch; the default for a kernel that launches others) or statements (a node per statement, tile and tensor).")
    var level: String?

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let fmt = format ?? output.map { ($0 as NSString).pathExtension.lowercased() } ?? "svg"
        guard Graphviz.formats.contains(fmt) else {
            throw ValidationError("--format: expected svg, png, pdf or dot, got '\(fmt)'")
        }
        if fmt == "png" || fmt == "pdf", output == nil { throw ValidationError("\(fmt) output needs -o FILE") }
        if let level, level != "model" && level != "statements" { throw ValidationError("--level: expected model or statements, got '\(level)'") }
        let profile = StatementProfile()
        let program: CheckedProgram
        let summary: RunSummary
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
            summary = trace.summary
        } else {
            let overrides = try parseKernelParams(params)
            let gpu = try gpuOptions.model()
            program = try loadProgram(input)
            do { summary = try Runner.run(program, options: RunOptions(gpu: gpu, overrides: overrides, cache: gpuOptions.cache), extraSink: profile) } catch { throw failRun(error) }
        }
        if level == "model" && !ModelGraph.applies(to: program) {
            throw ValidationError("--level model: \(program.entryKernel.name) launches no other kernels; its graph is --level statements")
        }
        let dot = DotWriter.dot(program: program, profile: profile, summary: summary, statements: level == "statements")
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
