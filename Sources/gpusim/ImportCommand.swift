import Analysis
import ArgumentParser
import Foundation
import KernLang
import Render
import Simulator

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a profiler's measurements into a gpusim trace, or a Hugging Face config into a model kernel.",
        subcommands: [Ncu.self, Torch.self, Hf.self])

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

    struct Hf: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model kernel from a Hugging Face config.json (Llama, Mistral, Qwen2, GPT-2).",
            discussion: prose("""
            The kernel is the shipped model of the same family (models/llama2_7b.kern or models/gpt2_small.kern) with the config's sizes, and its text changed where the architecture differs: grouped-query heads, head_dim, biases on the projections (Qwen2; attention_bias), tied embeddings, a sliding window, torch_dtype. It imports the stack kernels from the library, so it runs from any folder.
            Examples:
              gpusim import hf config.json -o mistral_7b.kern
              gpusim params mistral_7b.kern
              gpusim run mistral_7b.kern --gpu h100-sxm --T 512
            """))

        @Argument(help: "The model's config.json.")
        var config: String

        @Option(name: .shortAndLong, help: "The kernel file to write (.kern).")
        var output: String

        @Option(help: "The kernel's name (default: the output file's name).")
        var name: String?

        func run() throws {
            let kernelName = name ?? ((output as NSString).lastPathComponent as NSString).deletingPathExtension
            guard kernelName.first.map({ $0.isLetter || $0 == "_" }) == true, kernelName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ValidationError("--name: '\(kernelName)' is not a kernel name (letters, digits and _, not starting with a digit); give --name")
            }
            guard let library = KernelLibrary.shippedFolder() else {
                printError("gpusim: error: the kernel library (its models/ templates) is not installed beside this gpusim")
                throw ExitCode(1)
            }
            let text: String
            do {
                let data = try InputFile.read(config)
                text = try HFImport.kernel(config: data, source: config, name: kernelName, library: library)
            } catch {
                printError("gpusim: error: \(error)")
                throw ExitCode(1)
            }
            try writeFile(output, text + "\n")
            // The written kernel must check as it stands (it imports the stack from the library);
            // one that does not is an importer bug, and no file is left behind.
            do { _ = try loadProgram(output) } catch {
                try? FileManager.default.removeItem(atPath: output)
                printError("gpusim: error: the kernel written for \(config) does not check (a gpusim bug: please report it with the config); \(output) removed")
                throw error
            }
            print("wrote \(output): kernel \(kernelName) (gpusim params \(output) counts its weights)")
        }
    }
}
