import ArgumentParser
import Analysis
import Foundation
import Render
import Simulator

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the simulator: wall time, events/s and peak memory, fast-forward vs full simulation.",
        discussion: prose("""
        Ratios compare against a full simulation (every iteration interpreted) run in the same
        command. Build with -c release for meaningful numbers.
        `gpusim bench numerics` times --numeric runs of standard and flash attention (f32, N = 4096,
        d = 64 by default) next to NumPy computing the same attention, when python3 has NumPy.
        `gpusim bench traces` writes a flash-attention trace (N = 32768, d = 128 on seed-a100 by default: about 1.5 million events) as JSONL and binary, then times the readers as separate processes (trace info reads every event, diff only the header and summary, timeline every event into a chart) with each one's peak memory, against the binary trace's full read.
        Example:
          gpusim bench --N 8192,32768,131072,1048576 --runs 5
          gpusim bench numerics --runs 5
          gpusim bench traces --runs 3
        """))

    @Argument(help: "simulator (default), numerics or traces.")
    var suite: String = "simulator"

    @Option(name: .customLong("N"), help: "Sequence lengths, comma-separated.")
    var N: String = "8192,32768,131072,1048576"

    @Option(help: "Head dimension.")
    var d: Int64 = 128

    @Option(help: "Timed runs per case (the median is reported).")
    var runs: Int = 5

    @Option(name: .customLong("full-up-to"), help: "Largest N that is also simulated in full (the baseline).")
    var fullUpTo: Int64 = 131_072

    @Option(name: .customLong("trace-up-to"), help: "Largest N whose full traces (JSONL and binary) are written and timed.")
    var traceUpTo: Int64 = 8192

    @OptionGroup var gpuOptions: GPUOptions

    @Flag(help: "Print the measurements as JSON.")
    var json = false

    @Option(help: "Kernels to measure.")
    var kernels: [String] = ["Kernels/standard_attention.kern", "Kernels/flash_attention.kern"]

    func run() throws {
        if suite == "numerics" { return try runNumerics() }
        if suite == "traces" { return try runTraces() }
        guard suite == "simulator" else { throw ValidationError("unknown suite '\(suite)'; expected simulator, numerics or traces") }
        let sizes = try N.split(separator: ",").map { s -> Int64 in
            guard let v = Int64(s.trimmingCharacters(in: .whitespaces)), v > 0 else { throw ValidationError("--N: '\(s)' is not a positive integer") }
            return v
        }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        var bench = Benchmark(gpu: try gpuOptions.model())
        bench.d = d
        let programs = try kernels.map { (($0 as NSString).lastPathComponent, try loadProgram($0)) }
        let rows = try bench.run(kernels: programs, sizes: sizes, runs: runs, fullUpTo: fullUpTo, traceUpTo: traceUpTo,
                                 traceDir: NSTemporaryDirectory()) { label in
            if isatty(2) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K  running \(label)...".utf8)) }
        }
        if isatty(2) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json {
            let items = rows.map { r -> [String: String] in
                ["kernel": r.kernel, "N": "\(r.N)", "mode": r.mode, "runs": "\(r.runs)", "median_seconds": "\(r.medianSeconds)",
                 "events": "\(r.events)", "max_rss_bytes": "\(r.maxRSSBytes)", "speedup_vs_full": r.speedup.map { "\($0)" } ?? ""]
            }
            try printJSON(items)
            return
        }
        print("gpusim bench on \(bench.gpu.name), d = \(d), median of \(runs) runs (1 for the largest full simulations and traces)")
        print("kernel                    N          mode                  median   events (modeled)  trace events/s    max RSS   vs full")
        for r in rows {
            let written = r.mode.contains("trace")
            let eps = written ? group((Double(r.events) / r.medianSeconds).rounded()) : "-"
            let ratio: String = r.speedup.map { String(format: "%9.1fx", $0) } ?? "         -"
            var line = r.kernel.padding(toLength: 24, withPad: " ", startingAt: 0)
            line += group(r.N).leftPadded(9) + "  " + r.mode.padding(toLength: 17, withPad: " ", startingAt: 0)
            line += fmtSeconds(r.medianSeconds).leftPadded(11) + (r.events > 0 ? group(r.events) : "-").leftPadded(19) + eps.leftPadded(17)
            line += fmtBytes(r.maxRSSBytes).leftPadded(11) + ratio
            print(line)
        }
    }
}

extension BenchCommand {
    func runNumerics() throws {
        let sizes = N.split(separator: ",").compactMap { Int64($0) }
        let n = N == "8192,32768,131072,1048576" ? 4096 : (sizes.first ?? 4096)
        let dim = d == 128 ? 64 : d
        let gpu = try gpuOptions.model()
        let bench = NumericsBenchmark()
        let programs = try kernels.map { (($0 as NSString).lastPathComponent, try loadProgram($0)) }
        let rows = try bench.run(kernels: programs, gpu: gpu, N: n, d: dim, runs: runs)
        let numpy = bench.numpy(N: n, d: dim, runs: runs)
        let machine = NumericsBenchmark.machine, blas = NumericsBenchmark.blas
        if json {
            struct Item: Encodable {
                var kernel: String; var seconds: [Double]; var median_seconds: Double
                var ratio_to_numpy: [String: Double]?
            }
            struct Out: Encodable {
                var machine: String; var gpusim_blas: String; var numpy_version: String?; var numpy_blas: String?; var numpy_threads: String?
                var N: Int64; var d: Int64; var runs: Int; var numpy_seconds: [Double]?; var rows: [Item]
            }
            let items = rows.map { r in
                Item(kernel: r.kernel, seconds: r.seconds, median_seconds: r.medianSeconds,
                     ratio_to_numpy: numpy.flatMap { NumericsBenchmark.ratioSpread(r.seconds, $0.seconds) }.map { ["min": $0.min, "median": $0.median, "max": $0.max] })
            }
            try printJSON(Out(machine: machine, gpusim_blas: blas, numpy_version: numpy?.version, numpy_blas: numpy?.blas, numpy_threads: numpy?.threads,
                              N: n, d: dim, runs: runs, numpy_seconds: numpy?.seconds, rows: items))
            return
        }
        print("gpusim bench numerics: N = \(n), d = \(dim), f32, \(runs) runs each after one untimed run, medians")
        print("  machine  \(machine)")
        print("  gpusim   \(blas)")
        if let numpy {
            print("  NumPy    \(numpy.version), \(numpy.blas); threads: \(numpy.threads)")
            print("  NumPy standard attention (same computation)   \(fmtSeconds(numpy.medianSeconds).leftPadded(11))")
        } else { print("  NumPy: not available (python3 with numpy not found)") }
        for r in rows {
            // The ratio per run (run i against NumPy's run i): its median, and its spread.
            let ratio = numpy.flatMap { NumericsBenchmark.ratioSpread(r.seconds, $0.seconds) }
                .map { String(format: "  %.2fx NumPy's time (min %.2fx, max %.2fx)", $0.median, $0.min, $0.max) } ?? ""
            print("  gpusim --numeric \(r.kernel.padding(toLength: 28, withPad: " ", startingAt: 0))\(fmtSeconds(r.medianSeconds).leftPadded(11))\(ratio)")
        }
    }
}

extension BenchCommand {
    /// `gpusim bench traces`: the trace readers, each run as its own process (so its peak
    /// memory is its own), on the same run's JSONL and binary traces.
    func runTraces() throws {
        let n = N == "8192,32768,131072,1048576" ? 32768 : (N.split(separator: ",").compactMap { Int64($0) }.first ?? 32768)
        let gpu = try gpuOptions.given ? gpuOptions.model() : GPUOptions.preset("seed-a100")
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        guard let exe = Bundle.main.executablePath else { throw ValidationError("cannot find gpusim's own executable") }
        let dir = NSTemporaryDirectory() + "gpusim-bench-traces-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = try loadProgram("flash")
        var events: Int64 = 0
        for format in [Runner.TraceFormat.jsonl, .binary] {
            let options = RunOptions(gpu: gpu, overrides: ["N": .int(n), "d": .int(d)])
            do {
                events = try Runner.run(program, options: options, tracePath: dir + "/t." + (format == .binary ? "gstrace" : "jsonl"), traceFormat: format).counts.events
            } catch { throw failRun(error) }
        }
        struct Row { let reader: String; let format: String; let seconds: Double; let rss: Int64; let scans: Bool }
        var rows: [Row] = []
        for (reader, args, scans) in [("trace info", ["trace", "info"], true), ("diff (header, summary)", ["diff"], false), ("timeline", ["timeline"], true)] {
            for ext in ["jsonl", "gstrace"] {
                let trace = dir + "/t." + ext
                var argv = args + [trace]
                if reader.hasPrefix("diff") { argv.append(trace) }
                if reader == "timeline" { argv += ["-o", dir + "/timeline.svg"] }
                var times: [Double] = [], peak: Int64 = 0
                for _ in 0..<runs {
                    let (seconds, rss, status) = try Self.measure(exe, argv)
                    guard status == 0 else { throw ValidationError("gpusim \(argv.joined(separator: " ")) failed with status \(status)") }
                    times.append(seconds); peak = max(peak, rss)
                }
                rows.append(Row(reader: reader, format: ext == "jsonl" ? "JSONL" : "binary", seconds: Benchmark.median(times), rss: peak, scans: scans))
            }
        }
        let baseline = rows.first { $0.reader == "trace info" && $0.format == "binary" }!.seconds
        let sizes = ["JSONL": Self.fileSize(dir + "/t.jsonl"), "binary": Self.fileSize(dir + "/t.gstrace")]
        print("gpusim bench traces: flash_attention N = \(group(n)), d = \(d) on \(gpu.name): \(group(events)) events; JSONL \(fmtBytes(sizes["JSONL"]!)), binary \(fmtBytes(sizes["binary"]!)); median of \(runs) runs, each reader its own process")
        print("reader                    trace        median      events/s    peak RSS   vs binary full read")
        for r in rows {
            let eps = r.scans ? group((Double(events) / r.seconds).rounded()) : "-"
            print(r.reader.padding(toLength: 24, withPad: " ", startingAt: 0) + r.format.leftPadded(7) + fmtSeconds(r.seconds).leftPadded(14)
                  + eps.leftPadded(14) + fmtBytes(r.rss).leftPadded(12) + String(format: "%12.2fx", r.seconds / baseline))
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Runs `exe args` to completion: wall seconds, the child's own peak RSS in bytes (it
    /// reports it when GPUSIM_REPORT_PEAK_RSS is set), exit status.
    static func measure(_ exe: String, _ args: [String]) throws -> (Double, Int64, Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(["GPUSIM_REPORT_PEAK_RSS": "1"]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        let start = Date()
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let rss = text.split(separator: "\n").last { $0.hasPrefix("gpusim: peak RSS ") }.flatMap { Int64($0.split(separator: " ")[3]) } ?? -1
        return (seconds, rss, p.terminationStatus)
    }
}
