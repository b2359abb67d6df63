import ArgumentParser
import Foundation
import Render
import Simulator

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a kernel on a simulated GPU and print its memory and time summary.",
        discussion: prose("""
        Examples:
          gpusim run Kernels/flash_attention.kern --N 8192
          gpusim run Kernels/attention_2d.kern --gpu seed-a100 --N 1024 --d 64 --json
          gpusim run flash --N 4096 --trace flash.json --trace-format chrome
        """))

    @Argument(help: "The .kern file.")
    var kernel: String

    @OptionGroup var gpuOptions: GPUOptions

    @Option(help: "Which kernel of the file to run (default: the one named like the file, else the last).")
    var entry: String?

    @Option(help: "Stream every event to this file.")
    var trace: String?

    @Option(name: .customLong("trace-format"), help: "jsonl, binary (compact; the default for a .gstrace file) or chrome (Perfetto / chrome://tracing).")
    var traceFormatName: String?

    /// The format asked for, else the one the trace file's extension implies.
    var traceFormat: Runner.TraceFormat {
        traceFormatName.flatMap(Runner.TraceFormat.init(rawValue:)) ?? Runner.TraceFormat.forPath(trace ?? "")
    }

    @Option(name: .customLong("trace-mode"), help: "full (every event, default) or summary (header and summary only; the run may fast-forward).")
    var traceMode: String = "full"

    @Option(name: .customLong("trace-detail"), help: "Chrome traces: launch (kernel launches and counters only, small at model scale), statement (also every load, store and compute; default) or event (also allocations, frees, iterations).")
    var traceDetailName: String?

    @Option(name: .customLong("max-trace-bytes"), help: "Refuse a trace estimated above this size, before writing it (bytes, or 500MB, 2GB; default 1GB).")
    var maxTraceBytesText: String = "1GB"

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Flag(help: "Print one line per event with the SRAM bar.")
    var verbose = false

    @Flag(name: .customLong("explain-time"), help: "Show how the time of the run and of each phase follows from its bytes and FLOPs.")
    var explainTime = false

    @Flag(help: "Compute real values (Float32; seeded random or --input inputs).")
    var numeric = false

    @OptionGroup var numericFlags: NumericFlags

    @Option(name: .customLong("output"), help: "NAME=FILE.npy: write an output tensor after a --numeric run (repeatable).")
    var outputs: [String] = []

    @Option(name: .customLong("max-events"), help: "Stop with an error after this many events.")
    var maxEvents: Int64?

    @Option(help: "Stop with an error after this many seconds of wall time.")
    var timeout: Double?

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func validate() throws {
        guard Runner.TraceMode(rawValue: traceMode) != nil else {
            throw ValidationError("--trace-mode: expected full or summary, got '\(traceMode)'")
        }
        if let name = traceFormatName, Runner.TraceFormat(rawValue: name) == nil {
            throw ValidationError("--trace-format: expected jsonl, binary or chrome, got '\(name)'")
        }
        if traceMode == "summary" && traceFormat == .chrome { throw ValidationError("--trace-mode summary writes JSONL or binary traces, not chrome") }
        if let d = traceDetailName {
            guard TraceDetail(rawValue: d) != nil else { throw ValidationError("--trace-detail: expected launch, statement or event, got '\(d)'") }
            guard traceFormat == .chrome else { throw ValidationError("--trace-detail shapes chrome traces; add --trace-format chrome") }
        }
        _ = try parseByteSize(maxTraceBytesText, flag: "--max-trace-bytes")
        if let m = maxEvents, m <= 0 { throw ValidationError("--max-events must be positive") }
        if let t = timeout, !(t > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        let overrides = try parseKernelParams(params)
        let gpu = try gpuOptions.model()
        let program = try loadProgram(kernel, entry: entry)
        let options = RunOptions(gpu: gpu, overrides: overrides, maxEvents: maxEvents, timeoutSeconds: timeout, cache: gpuOptions.cache)
        let report = TerminalReport(color: useColor(1))
        let printer = verbose ? EventPrinter(report: report, gpu: gpu) : nil
        if !outputs.isEmpty && !numeric { throw ValidationError("--output needs --numeric (shape-only runs compute no values)") }
        let numericOptions = numeric ? try numericFlags.options() : nil
        let summary: RunSummary
        var outputValues: [String: OutputTensor] = [:]
        do {
            let bar = ProgressBar(label: "running \(program.entryKernel.name)", enabled: isatty(2) != 0 && !verbose)
            defer { bar.finish() }
            let result = try Runner.runNumeric(program, options: options, numeric: numericOptions, tracePath: trace,
                                               traceFormat: traceFormat,
                                               traceMode: Runner.TraceMode(rawValue: traceMode)!,
                                               traceDetail: traceDetailName.flatMap(TraceDetail.init(rawValue:)) ?? .statement,
                                               maxTraceBytes: try parseByteSize(maxTraceBytesText, flag: "--max-trace-bytes"), extraSink: printer,
                                               progress: bar.update)
            summary = result.summary
            outputValues = result.outputs
            try writeOutputs(outputs, result.outputs)
        } catch let e as SimulationError {
            throw failRun(e)
        }
        if json {
            try printJSON(summary)
        } else {
            print(report.render(summary, gpu: gpu))
            for (name, t) in outputValues.sorted(by: { $0.key < $1.key }) { print(Self.values(name, t)) }
            if explainTime { print(report.explainTime(summary, gpu: gpu)) }
            if let trace {
                let detail = traceFormat == .chrome ? " at \(traceDetailName ?? TraceDetail.statement.rawValue) detail" : ""
                print("  Trace        \(trace) (" + (traceMode == "summary" ? "summary only" : "\(group(summary.counts.events)) events, \(traceFormat.rawValue)\(detail)") + ")")
            }
        }
    }
}

extension RunCommand {
    /// An output of a numeric run: all its values when there are a few, else its first ones.
    static func values(_ name: String, _ t: OutputTensor) -> String {
        let shown = t.values.prefix(16).map { String(format: "%.8f", $0) }.joined(separator: ", ")
        let more = t.values.count > 16 ? ", ... (\(t.values.count) values; --output \(name)=FILE.npy writes them)" : ""
        return "  \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) [\(t.shape.map(String.init).joined(separator: ", "))] \(t.dtype.rawValue) = [\(shown)\(more)]"
    }
}

/// `--verbose`: prints each event as it happens (streamed, never stored).
final class EventPrinter: EventSink {
    let report: TerminalReport
    let gpu: GPUModel
    init(report: TerminalReport, gpu: GPUModel) { self.report = report; self.gpu = gpu }
    func record(_ e: Event) {
        print(report.eventLine(e, capacity: gpu.sramBytes, gpu: gpu))
    }
}
