import Analysis
import ArgumentParser
import Foundation
import KernLang
import Simulator

/// Printed by `gpusim --version`.
let gpusimVersion = "0.12.0"

@main
struct Gpusim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpusim",
        abstract: "Simulate the memory behaviour of GPU kernels written in .kern files.",
        discussion: prose("""
        Exit status: 0 success, 1 kernel or input error (diagnostics printed), 2 usage error,
        130 or 143 when interrupted.
        A kernel is a path or a name from the kernel library (gpusim list); parameters may
        stand before or after it:
          gpusim run flash --N 8192
        """),
        version: gpusimVersion,
        subcommands: [RunCommand.self, CheckCommand.self, FmtCommand.self, ListCommand.self, BenchCommand.self, VerifyCommand.self, GraphCommand.self, DiffCommand.self, RooflineCommand.self, SweepCommand.self, TimelineCommand.self, ReportCommand.self, ComplexityCommand.self, ParamsCommand.self, ValidateCommand.self, TraceCommand.self, ImportCommand.self, CalibrateCommand.self, InferCommand.self])

    static func main() {
        TemporaryFiles.shared.cleanUpOnSignals()
        // `gpusim bench traces` (and a test) measure each reader's own peak memory this way: a
        // spawned child's rusage also counts the parent pages it shared until exec.
        if ProcessInfo.processInfo.environment["GPUSIM_REPORT_PEAK_RSS"] != nil {
            atexit { FileHandle.standardError.write(Data("gpusim: peak RSS \(peakRSSBytes()) bytes\n".utf8)) }
        }
        var command: ParsableCommand
        do { command = try parse(Array(CommandLine.arguments.dropFirst())) } catch { fail(error) }
        do { try command.run() } catch { fail(error) }
    }

    /// Parses the command line; kernel parameters may also stand before the kernel path
    /// (`gpusim run --N 8192 flash`): an option the command does not know is moved, with its
    /// value, behind the positional arguments, and the line parsed again.
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        var args = arguments
        var firstError: Error?
        for _ in 0..<64 {
            do { return try parseAsRoot(args) } catch {
                if firstError == nil { firstError = error }
                let message = fullMessage(for: error)
                let lead = "Error: Unknown option '"
                guard message.hasPrefix(lead + "--"), let end = message.dropFirst(lead.count).firstIndex(of: "'") else { break }
                let name = String(message[message.index(message.startIndex, offsetBy: lead.count)..<end])
                guard let i = args.firstIndex(where: { $0 == name || $0.hasPrefix(name + "=") }),
                      args[(i + 1)...].contains(where: { !$0.hasPrefix("-") }) else { break }
                let takesValue = args[i] == name && i + 1 < args.count && !args[i + 1].hasPrefix("--")
                let moved = Array(args[i...(takesValue ? i + 1 : i)])
                args.removeSubrange(i...(takesValue ? i + 1 : i))
                // Behind the next positional argument (the kernel path), where parameters belong.
                guard let k = args[i...].firstIndex(where: { !$0.hasPrefix("-") }) else { break }
                args.insert(contentsOf: moved, at: k + 1)
            }
        }
        throw firstError!
    }

    /// Reports an error and exits: usage errors with 2 (swift-argument-parser's EX_USAGE, 64, is
    /// not what gpusim documents), every message behind the same "gpusim: error:" prefix.
    static func fail(_ error: Error) -> Never {
        let code = exitCode(for: error)
        if code.rawValue == 64 {
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message = "gpusim: error: " + message.dropFirst(7) }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(2)
        }
        exit(withError: error)
    }
}

/// Terminal habits: colour only on a TTY, and never when NO_COLOR is set.
func useColor(_ fd: Int32) -> Bool {
    isatty(fd) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
}

func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Prints diagnostics or a simulation error to stderr and exits with status 1.
func failRun(_ error: SimulationError) -> ExitCode {
    switch error {
    case .kernel(let d): printError(d.render(color: useColor(2)))
    case .input(let s): printError("gpusim: error: \(s)")
    case .usage(let s):
        printError("gpusim: error: \(s)")
        return ExitCode(2)
    }
    return ExitCode(1)
}

/// Prints at most `limit` diagnostics (as clang's -ferror-limit does), then a count.
func failDiagnostics(_ list: DiagnosticList, limit: Int = 20) -> ExitCode {
    let color = useColor(2)
    let sorted = list.sorted
    printError(sorted.prefix(limit).map { $0.render(color: color) }.joined(separator: "\n"))
    let n = list.items.filter { $0.severity == .error }.count
    if sorted.count > limit { printError("\(sorted.count - limit) more diagnostics not shown (is this a .kern file?)") }
    printError("\(n) error\(n == 1 ? "" : "s") generated.")
    return ExitCode(1)
}

/// Loads and checks a kernel file, exiting with its diagnostics on failure.
func loadProgram(_ path: String, entry: String? = nil) throws -> CheckedProgram {
    do {
        switch try Runner.load(path, entry: entry) {
        case .success(let p): return p
        case .failure(let d): throw failDiagnostics(d)
        }
    } catch let e as SimulationError {
        throw failRun(e)
    }
}

/// Writes a whole output file through a temporary name (nothing partial on failure).
func writeFile(_ path: String, _ data: Data) throws {
    do {
        let w = try AtomicFileWriter(path: path)
        try w.write(data)
        try w.commit()
    } catch { throw failRun(error) }
}

func writeFile(_ path: String, _ text: String) throws { try writeFile(path, Data(text.utf8)) }

/// The summary of a recorded trace, or of a run of a kernel with the command's parameters;
/// `sink` sees every event either way.
/// The GPU is nil for a measured trace that does not name its GPU.
func summaryOf(_ input: String, params: [String], gpu gpuOptions: GPUOptions, preset: GPUModel? = nil, sink: EventSink? = nil) throws -> (RunSummary, GPUModel?) {
    if TraceReader.looksLikeTrace(input) {
        if !params.isEmpty { throw ValidationError("parameters cannot be given with a trace; they were fixed when it was recorded") }
        do {
            let t = try TraceReader.read(input, into: sink)
            return (t.summary, t.gpu)
        } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
    }
    let gpu = try preset ?? gpuOptions.model()
    let program = try loadProgram(input)
    let options = RunOptions(gpu: gpu, overrides: try parseKernelParams(params), cache: gpuOptions.cache)
    do { return (try Runner.run(program, options: options, extraSink: sink), gpu) } catch { throw failRun(error) }
}

/// `--N 8192 --d=64 --dt bf16` after the kernel path.
func parseKernelParams(_ args: [String]) throws -> [String: ParamValue] {
    var out: [String: ParamValue] = [:]
    var i = 0
    while i < args.count {
        let a = args[i]
        guard a.hasPrefix("--"), a.count > 2 else {
            throw ValidationError("unexpected argument '\(a)'; kernel parameters are given as --NAME VALUE after the kernel path")
        }
        var name = String(a.dropFirst(2)), value: String
        if let eq = name.firstIndex(of: "=") {
            value = String(name[name.index(after: eq)...]); name = String(name[..<eq])
        } else {
            guard i + 1 < args.count else { throw ValidationError("--\(name) needs a value (--\(name) VALUE)") }
            value = args[i + 1]; i += 1
        }
        i += 1
        if let v = Int64(value.replacingOccurrences(of: "_", with: "")) { out[name] = .int(v) }
        else if let v = Double(value), v.isFinite { out[name] = .float(v) }
        else if value == "true" || value == "false" { out[name] = .bool(value == "true") }
        else if DType(rawValue: value) != nil { out[name] = .dtype(value) }
        else { throw ValidationError("--\(name): expected a number, true/false or a dtype, got '\(value)'") }
    }
    return out
}

/// The options shared by every command that runs a kernel.
extension CacheMode: ExpressibleByArgument {}

struct GPUOptions: ParsableArguments {
    @Option(name: .long, help: "GPU preset (gpusim list shows them; default: \(GPUModel.defaultPreset)).")
    var gpu: String?

    @Option(name: .customLong("gpu-file"), help: "A user-defined GPU as JSON (overrides --gpu).")
    var gpuFile: String?

    @Option(help: "L2 between launches: flush (each launch starts with an empty L2 and leaves its dirty lines unwritten, as Nsight Compute measures; default) or warm (L2 carries over; everything stored is written back).")
    var cache: CacheMode = .flush

    func model() throws -> GPUModel {
        if let gpuFile {
            let data: Data
            do { data = try InputFile.read(gpuFile) } catch {
                printError("gpusim: error: --gpu-file: \(error)")
                throw ExitCode(1)
            }
            do { return try GPUModel.load(json: data, path: gpuFile) } catch { throw failRun(error) }
        }
        return try Self.preset(gpu ?? GPUModel.defaultPreset)
    }

    /// Whether the command line chose a GPU (else a measured trace's own GPU may stand in).
    var given: Bool { gpu != nil || gpuFile != nil }

    /// The preset called `name`, or the one preset whose name starts with it (`h100` is
    /// h100-sxm); otherwise a usage error that lists the candidates.
    static func preset(_ name: String) throws -> GPUModel {
        let names = GPUModel.presets.map(\.name)
        let prefixed = names.filter { $0.hasPrefix(name) }
        if GPUModel.preset(named: name) == nil, prefixed.count > 1 {
            throw ValidationError("--gpu: '\(name)' could be any of \(prefixed.joined(separator: ", ")); name one")
        }
        guard let m = GPUModel.preset(named: name) ?? (prefixed.count == 1 ? GPUModel.preset(named: prefixed[0]) : nil) else {
            var msg = "--gpu: unknown preset '\(name)'"
            if let s = closestName(to: name, in: GPUModel.presets.map(\.name)) { msg += "; did you mean '\(s)'?" }
            msg += " Presets: \(GPUModel.presets.map(\.name).joined(separator: ", "))"
            throw ValidationError(msg)
        }
        return m
    }
}

/// Help text as written in the source, with its prose lines joined into paragraphs so that the
/// terminal wraps them once; indented lines (examples), headings ("Examples:") and lines after
/// a blank or a ':' keep their breaks, so every example prints on one line and can be pasted.
func prose(_ text: String) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        let heading = line.hasSuffix(":") && line.split(separator: " ").count <= 3   // "Examples:"
        if let last = out.last, !last.isEmpty, !last.hasSuffix(":"), !last.hasPrefix(" "), !line.isEmpty, !line.hasPrefix(" "), !heading {
            out[out.count - 1] = last + " " + line
        } else {
            out.append(line)
        }
    }
    return out.joined(separator: "\n")
}

/// This process's peak resident memory (VmHWM), in bytes; -1 when /proc does not say.
func peakRSSBytes() -> Int64 {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int64($0) }) else { return -1 }
    return kb * 1024
}

/// `--json` output: pretty-printed, keys sorted (stable for scripts and diffs).
func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

/// A size given as bytes or with a decimal unit (500MB, 2GB, 1.5TB), as `fmtBytes` prints them.
func parseByteSize(_ text: String, flag: String) throws -> Int64 {
    let t = text.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [(String, Double)] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)]
    var number = t, scale = 1.0
    for (suffix, s) in units where t.hasSuffix(suffix) { number = String(t.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces); scale = s; break }
    guard let v = Double(number), v > 0, v * scale < 9e18 else {
        throw ValidationError("\(flag): expected a size such as 1000000, 500MB or 2GB, got '\(text)'")
    }
    return Int64(v * scale)
}
