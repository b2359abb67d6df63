import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a profiler's measurements into a gpusim trace (one launch event per GPU kernel).",
        subcommands: [Ncu.self, Torch.self])

    /// The options both importers share.
    struct Output: ParsableArguments {
        @Option(name: .shortAndLong, help: "The trace to write (.gstrace: binary; else JSON Lines).")
        var output: String

        @Option(help: "jsonl, binary or chrome (default: from the output's extension).")
        var to: String?

        @Option(help: "The preset of the GPU the measurements were taken on (recorded in the trace; optional).")
        var gpu: String?

        func validate() throws {
            if let to, Runner.TraceFormat(rawValue: to) == nil {
                throw ValidationError("--to: expected jsonl, binary or chrome, got '\(to)'")
            }
        }

        /// Reads with `read` (its error is one line and exit 1), then writes the trace.
        func importing(_ read: () throws(ImportError) -> MeasuredRun) throws {
            let measured: MeasuredRun
            do { measured = try read() } catch {
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
            try write(measured)
        }

        func write(_ run: MeasuredRun) throws {
            let preset = try gpu.map(GPUOptions.preset)
            let format = to.flatMap(Runner.TraceFormat.init(rawValue:)) ?? .forPath(output)
            do { try run.write(to: output, format: format, gpu: preset) } catch { throw failRun(error) }
            let s = run.summary(gpu: preset)
            let dram = s.knows("hbm") ? fmtBytes(s.hbm.total_bytes) : "unknown"
            print("\(output): \(run.launches.count) launch\(run.launches.count == 1 ? "" : "es") from \(run.tool), DRAM \(dram), L2 \(s.l2?.bytes.map(fmtBytes) ?? "unknown"), time \(fmtSeconds(s.time.total))")
        }
    }

    struct Ncu: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import what `ncu --csv` printed (one row per launch and metric, or --page raw).",
            discussion: prose("""
            Needs the metrics dram__bytes_read.sum, dram__bytes_write.sum and gpu__time_duration.sum; lts__t_bytes.sum (L2 traffic) is read when present. Units are converted, with or without --print-units base.
            Examples:
              m=dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum
              ncu --csv --print-units base --metrics $m,gpu__time_duration.sum \\
                  python3 attn.py > attn.csv
              gpusim import ncu attn.csv -o attn.gstrace --gpu h100-sxm
            """))

        @Argument(help: "The CSV file ncu wrote.")
        var input: String

        @OptionGroup var out: Output

        func run() throws { try out.importing { () throws(ImportError) in try NsightCSV.read(input) } }
    }

    struct Torch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a PyTorch profiler trace (export_chrome_trace): its GPU kernels in order.",
            discussion: prose("""
            The profiler times kernels but does not count bytes: DRAM and L2 traffic stay unknown.
            Example:
              gpusim import torch trace.json -o trace.jsonl
            """))

        @Argument(help: "The JSON file export_chrome_trace wrote.")
        var input: String

        @OptionGroup var out: Output

        func run() throws { try out.importing { () throws(ImportError) in try TorchProfile.read(input) } }
    }
}
