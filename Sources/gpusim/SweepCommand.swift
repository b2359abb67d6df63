import Analysis
import ArgumentParser
import Foundation
import KernLang
import Render
import Simulator

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a kernel over a grid of parameters on all cores and fit how traffic, FLOPs and SRAM grow.",
        discussion: prose("""
        `gpusim sweep KERNEL --NAME v1,v2 ...` runs the grid (the `run` subcommand is the default);
        `gpusim sweep merge` joins the JSON of sharded runs into the whole sweep.
        """),
        subcommands: [SweepRunCommand.self, SweepMergeCommand.self], defaultSubcommand: SweepRunCommand.self)
}

/// How a sweep prints and writes its result, whole or merged.
func report(_ sweep: Sweep, kernel: String, output: String?, json: Bool) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted]
    if let output {
        try writeFile(output + ".csv", sweep.csv)
        try writeFile(output + ".json", try enc.encode(sweep.file(kernel: kernel)))
    }
    let names = sweep.names
    // Every point is reported (and written); a sweep with failed points still exits 1.
    let failed = sweep.points.filter { $0.summary == nil }
    func failIfAnyFailed() throws {
        guard !failed.isEmpty else { return }
        let which = failed.prefix(5).map { p in names.map { "\($0)=\(p.params[$0]!)" }.joined(separator: " ") }.joined(separator: "; ")
        printError("gpusim: error: \(failed.count) of \(sweep.points.count) points failed (\(which)\(failed.count > 5 ? "; ..." : ""))")
        throw ExitCode(1)
    }
    if json { print(String(decoding: try enc.encode(sweep.file(kernel: kernel)), as: UTF8.self)); try failIfAnyFailed(); return }
    if let shard = sweep.shard { print("shard \(shard) of the grid: \(sweep.points.count) of \(sweep.total) points") }
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

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a kernel over a grid of parameters on all cores and fit how traffic, FLOPs and SRAM grow.",
        discussion: prose("""
        Each --NAME takes comma-separated values; the cross product runs in parallel. The fit is the
        least-squares slope in log-log against each swept parameter (others held fixed).
        --shard I/N runs only every N-th point starting at I (0-based), so N machines can share a
        grid; `gpusim sweep merge` joins their JSON into the whole sweep (a Slurm job array:
        `gpusim sweep K --N ... --shard $SLURM_ARRAY_TASK_ID/4 -o part-$SLURM_ARRAY_TASK_ID` with
        `--array=0-3`, then `gpusim sweep merge part-*.json -o all`).
        Examples:
          gpusim sweep tiled_2d --gpu seed-a100 --N 1024,2048,4096,8192
          gpusim sweep flash --gpu seed-a100 --N 8192 --usage 0.25,0.5,1 -o flash-sram
          gpusim sweep flash --N 1024,2048,4096,8192 --shard 0/2 -o part-0
        """))

    @Argument(help: "The .kern file.")
    var kernel: String

    @Option(name: .shortAndLong, help: "Write PREFIX.csv and PREFIX.json.")
    var output: String?

    @Flag(help: "Print the points and fits as JSON.")
    var json = false

    @Option(help: "Run only shard I of N (0-based): every N-th point of the grid starting at I.")
    var shard: String?

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Swept parameters: --NAME v1,v2,...")
    var params: [String] = []

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
        var part: Sweep.Shard?
        if let shard {
            guard let p = Sweep.Shard(shard) else { throw ValidationError("--shard: expected I/N with 0 <= I < N (e.g. 0/4), got '\(shard)'") }
            part = p
        }
        let bar = ProgressBar(label: "sweeping \(program.entryKernel.name)", enabled: isatty(2) != 0)
        let sweep = Sweep(program: program, gpu: try gpuOptions.model(), cache: gpuOptions.cache, values: values, shard: part) { done, total in bar.update(Double(done) / Double(total)) }
        bar.finish()
        try report(sweep, kernel: program.entryKernel.name, output: output, json: json)
    }
}

struct SweepMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the JSON of a sharded sweep (--shard I/N runs) into the whole sweep.",
        discussion: prose("""
        Checks that the files sweep the same kernel and grid and hold every point exactly once,
        then prints and writes what the unsharded sweep would have (the same CSV and JSON).
        Example:
          gpusim sweep merge part-0.json part-1.json -o all
        """))

    @Argument(help: "The shards' JSON files (-o PREFIX of each run wrote PREFIX.json).")
    var files: [String]

    @Option(name: .shortAndLong, help: "Write PREFIX.csv and PREFIX.json.")
    var output: String?

    @Flag(help: "Print the points and fits as JSON.")
    var json = false

    func run() throws {
        guard !files.isEmpty else { throw ValidationError("give the shards' JSON files, e.g. gpusim sweep merge part-0.json part-1.json") }
        var parts: [Sweep.File] = []
        for path in files {
            let data: Data
            do { data = try InputFile.read(path) } catch { printError("gpusim: error: \(error)"); throw ExitCode(1) }
            do { parts.append(try JSONDecoder().decode(Sweep.File.self, from: data)) } catch {
                printError("gpusim: error: \(path): not the JSON of a gpusim sweep (gpusim sweep ... -o PREFIX writes PREFIX.json)")
                throw ExitCode(1)
            }
        }
        if let other = parts.first(where: { $0.kernel != parts[0].kernel }) {
            printError("gpusim: error: the files sweep different kernels ('\(parts[0].kernel)' and '\(other.kernel)')")
            throw ExitCode(1)
        }
        let merged: Sweep
        do { merged = try Sweep(merging: parts.map(Sweep.init(file:))) } catch { printError("gpusim: error: \(error)"); throw ExitCode(1) }
        try report(merged, kernel: parts[0].kernel, output: output, json: json)
    }
}

