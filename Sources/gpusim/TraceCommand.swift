import Analysis
import ArgumentParser
import Foundation
import KernLang
import Render
import Simulator

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Convert traces between formats, or describe one.",
        subcommands: [Convert.self, Info.self])

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a trace (JSONL or binary) as JSONL, binary or Chrome trace JSON.",
            discussion: prose("""
            The events, header and summary are carried over unchanged: a binary trace converted to
            JSONL is byte for byte the JSONL trace the same run writes.
            Examples:
              gpusim run Kernels/flash_attention.kern --N 8192 --trace flash.gstrace
              gpusim trace convert flash.gstrace flash.jsonl
              gpusim trace convert flash.gstrace flash.json --to chrome
            """))

        @Argument(help: "The trace to read (JSONL or binary).")
        var input: String

        @Argument(help: "The file to write.")
        var output: String

        @Option(help: "jsonl, binary or chrome (default: binary for a .gstrace file, else jsonl).")
        var to: String?

        @Option(name: .customLong("trace-detail"), help: "Chrome output: launch, statement (default) or event.")
        var traceDetailName: String?

        func validate() throws {
            if let to, Runner.TraceFormat(rawValue: to) == nil {
                throw ValidationError("--to: expected jsonl, binary or chrome, got '\(to)'")
            }
            if let d = traceDetailName {
                guard TraceDetail(rawValue: d) != nil else { throw ValidationError("--trace-detail: expected launch, statement or event, got '\(d)'") }
                guard (to.flatMap(Runner.TraceFormat.init(rawValue:)) ?? .forPath(output)) == .chrome else {
                    throw ValidationError("--trace-detail shapes chrome traces; add --to chrome")
                }
            }
            if (input as NSString).standardizingPath == (output as NSString).standardizingPath {
                throw ValidationError("the output would overwrite the input '\(input)'; give another file")
            }
        }

        func run() throws {
            let format = to.flatMap(Runner.TraceFormat.init(rawValue:)) ?? .forPath(output)
            guard TraceReader.looksLikeTrace(input) else {
                printError("gpusim: error: " + (InputFile.problem(input) ?? "'\(input)' is not a gpusim trace (JSONL or binary)"))
                throw ExitCode(1)
            }
            // The writer needs the header, which the reader hands over before the first event.
            var writer: TraceWriter?
            do {
                let trace = try TraceReader.read(input) { header throws(TraceReader.Failure) in
                    do throws(SimulationError) { writer = try format.writer(path: output, header: header, detail: traceDetailName.flatMap(TraceDetail.init(rawValue:)) ?? .statement) } catch {
                        if case .input(let m) = error { throw .message(m) }
                        throw .message("\(error)")
                    }
                    return writer
                }
                try writer?.finish(summary: trace.summary)
                print("\(output): \(group(trace.summary.counts.events)) events, \(format.rawValue)")
            } catch {
                writer?.abandon()
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a trace's kernel, GPU, parameters, event count and summary figures.")

        @Argument(help: "A JSONL or binary trace.")
        var input: String

        func run() throws {
            final class Counter: EventSink { var n: Int64 = 0; func record(_ e: Event) { n += 1 } }
            let counter = Counter()
            let trace: TraceReader.Trace
            do { trace = try TraceReader.read(input, into: counter) } catch {
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
            let s = trace.summary
            let size = ((try? FileManager.default.attributesOfItem(atPath: input))?[.size] as? NSNumber)?.int64Value ?? 0
            print("\(input): \(TraceReader.isBinary(input) ? "binary" : "JSONL") trace, \(fmtBytes(size))")
            let time = fmtTime(s.time.unit == .cycles ? s.time.total.rounded() : s.time.total, s.time.unit)
            let flops = s.knows("flops") ? group(s.flops.total) : "unknown"
            let dram = s.knows("hbm") ? fmtBytes(s.hbm.total_bytes) : "unknown"
            if let m = s.measured {
                print("  Measured     with \(m.tool) from \(trace.file)\(trace.gpu.map { " on \($0.name)" } ?? " (GPU not named)")")
                print("  Launches     \(group(s.counts.launches)) GPU kernels, \(group(counter.n)) events in the file")
                let l2 = s.l2?.bytes.map(fmtBytes) ?? "unknown"
                print("  DRAM         \(dram)\(s.knows("hbm") ? " (reads \(fmtBytes(s.hbm.read_bytes)), writes \(fmtBytes(s.hbm.write_bytes)))" : ""), L2 traffic \(l2)")
                print("  Time         \(time) (sum of kernel durations), FLOPs \(flops), SRAM \(s.knows("sram") ? fmtBytes(s.sram.peak_bytes) : "unknown")")
                return
            }
            print("  Kernel       \(trace.kernel) (\(trace.file)) on \(trace.gpu?.name ?? s.gpu)")
            print("  Parameters   " + trace.params.keys.sorted().map { "\($0)=\(trace.params[$0]!)" }.joined(separator: " "))
            print("  Events       \(group(counter.n)) in the file\(counter.n == 0 ? " (a summary-only trace)" : ""); the run modelled loads \(group(s.counts.loads)), stores \(group(s.counts.stores)), computes \(group(s.counts.computes))")
            print("  HBM traffic  \(dram), FLOPs \(flops), time \(time)")
        }
    }
}
