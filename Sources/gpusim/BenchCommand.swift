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
        Example:
          gpusim bench --N 8192,32768,131072,1048576 --runs 5
          gpusim bench numerics --runs 5
        """))

    @Argument(help: "simulator (default) or numerics.")
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
        guard suite == "simulator" else { throw ValidationError("unknown suite '\(suite)'; expected simulator or numerics") }
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
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(items), as: UTF8.self))
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
        if json {
            var items = rows.map { ["kernel": $0.kernel, "median_seconds": "\($0.medianSeconds)"] }
            if let numpy { items.append(["kernel": "numpy standard attention", "median_seconds": "\(numpy)"]) }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(items), as: UTF8.self))
            return
        }
        print("gpusim bench numerics: N = \(n), d = \(dim), f32, median of \(runs) runs")
        if let numpy { print("  NumPy standard attention (same computation)   \(fmtSeconds(numpy).leftPadded(11))") }
        else { print("  NumPy: not available (python3 with numpy not found)") }
        for r in rows {
            let ratio = numpy.map { String(format: "  %.2fx NumPy's time", r.medianSeconds / $0) } ?? ""
            print("  gpusim --numeric \(r.kernel.padding(toLength: 28, withPad: " ", startingAt: 0))\(fmtSeconds(r.medianSeconds).leftPadded(11))\(ratio)")
        }
    }
}
