import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a kernel over a grid of parameters on all cores and fit how traffic, FLOPs and SRAM grow.",
        discussion: prose("""
        Each --NAME takes comma-separated values; the cross product runs in parallel. The fit is the
        least-squares slope in log-log against each swept parameter (others held fixed).
        Examples:
          gpusim sweep tiled_2d --gpu seed-a100 --N 1024,2048,4096,8192
          gpusim sweep flash --gpu seed-a100 --N 8192 --usage 0.25,0.5,1 -o flash-sram
        """))

    @Argument(help: "The .kern file.")
    var kernel: String

    @Option(name: .shortAndLong, help: "Write PREFIX.csv and PREFIX.json.")
    var output: String?

    @Flag(help: "Print the points and fits as JSON.")
    var json = false

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Swept parameters: --NAME v1,v2,...")
    var params: [String] = []

    struct Output: Encodable {
        struct P: Encodable { var params: [String: ParamValue]; var summary: RunSummary?; var error: String? }
        var points: [P]
        var fits: [Sweep.Fit]
    }

    func run() throws {
        var values: [(String, [ParamValue])] = []
        var i = 0
        while i < params.count {
            let a = params[i]
            guard a.hasPrefix("--"), i + 1 < params.count else { throw ValidationError("expected --NAME v1,v2,... after the kernel, got '\(a)'") }
            let name = String(a.dropFirst(2))
            let vs = try params[i + 1].split(separator: ",").map { v -> ParamValue in
                try parseKernelParams(["--\(name)", String(v)])[name]!
            }
            values.append((name, vs))
            i += 2
        }
        guard !values.isEmpty else { throw ValidationError("give at least one parameter to sweep, e.g. --N 1024,2048,4096") }
        let program = try loadProgram(kernel)
        let known = Set(program.entryKernel.params.map(\.name))
        for (name, _) in values where !known.contains(name) {
            throw ValidationError("--\(name): kernel '\(program.entryKernel.name)' has no parameter '\(name)' (parameters: \(program.entryKernel.params.map(\.name).joined(separator: ", ")))")
        }
        let bar = ProgressBar(label: "sweeping \(program.entryKernel.name)", enabled: isatty(2) != 0)
        let sweep = Sweep(program: program, gpu: try gpuOptions.model(), cache: gpuOptions.cache, values: values) { done, total in bar.update(Double(done) / Double(total)) }
        bar.finish()
        let out = Output(points: sweep.points.map { .init(params: $0.params, summary: $0.summary, error: $0.error) }, fits: sweep.fits)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let output {
            try writeFile(output + ".csv", sweep.csv)
            try writeFile(output + ".json", try enc.encode(out))
        }
        // Every point is reported (and written); a sweep with failed points still exits 1.
        let failed = sweep.points.filter { $0.summary == nil }
        func failIfAnyFailed() throws {
            guard !failed.isEmpty else { return }
            let which = failed.prefix(5).map { p in names.map { "\($0)=\(p.params[$0]!)" }.joined(separator: " ") }.joined(separator: "; ")
            printError("gpusim: error: \(failed.count) of \(sweep.points.count) points failed (\(which)\(failed.count > 5 ? "; ..." : ""))")
            throw ExitCode(1)
        }
        let names = sweep.names
        if json { print(String(decoding: try enc.encode(out), as: UTF8.self)); try failIfAnyFailed(); return }
        print(names.map { $0.leftPadded(8) }.joined() + "   HBM traffic         FLOPs   peak SRAM          time   bound")
        for p in sweep.points {
            let head = names.map { p.params[$0]!.description.leftPadded(8) }.joined()
            guard let s = p.summary else { print(head + "   failed: " + (p.error ?? "").replacingOccurrences(of: "gpusim: error: ", with: "")); continue }
            let t = s.time.unit == .cycles ? group(s.time.total) : fmtSeconds(s.time.total)
            print(head + fmtBytes(s.hbm.total_bytes).leftPadded(14) + RooflineChart.tick(Double(s.flops.total)).leftPadded(14)
                  + fmtBytes(s.sram.peak_bytes).leftPadded(12) + t.leftPadded(14) + "   \(s.bound)")
        }
        for f in sweep.fits {
            print(String(format: "%@ ~ %@", f.metric, f.growth) + String(format: "   (exponent %.2f over %d points)", f.exponent, f.points))
        }
        if let output { print("wrote \(output).csv and \(output).json") }
        try failIfAnyFailed()
    }
}
