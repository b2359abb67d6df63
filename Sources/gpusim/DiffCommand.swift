import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two runs side by side: traffic per tensor, FLOPs, peak SRAM, time and verdict.",
        discussion: prose("""
        Each side is a JSONL trace or a kernel (run on the fly with the same parameters; each kernel
        takes the parameters it declares).
        Examples:
          gpusim diff flash tiled_2d --gpu seed-a100 --N 4096 --d 128
          gpusim diff flash.jsonl standard.jsonl --json
        When one side is a measured trace (gpusim import), the simulated launches are lined up with the measured ones in launch order, each with its DRAM bytes, L2 bytes, time and errors:
          gpusim import ncu attn.csv -o attn.gstrace --gpu h100-sxm
          gpusim diff eager_attention attn.gstrace --N 1024 --BH 16
        """))

    @Argument(help: "First trace or kernel.")
    var a: String

    @Argument(help: "Second trace or kernel.")
    var b: String

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    @Flag(name: .customLong("allow-mismatch"), help: "Compare sides that ran on different presets, in different units or at different shared parameters (the differences are printed first).")
    var allowMismatch = false

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    /// Each kernel takes the parameters it declares; `gpu` stands in for --gpu when given.
    func summary(_ path: String, gpu: GPUModel? = nil, sink: EventSink? = nil) throws -> (RunSummary, String) {
        var mine: [String] = []
        if !TraceReader.looksLikeTrace(path), case .success(let p)? = try? Runner.load(path) {
            let known = Set(p.entryKernel.params.map(\.name))
            for (name, value) in try parseKernelParams(params).sorted(by: { $0.key < $1.key }) where known.contains(name) {
                mine += ["--\(name)", value.description]
            }
        }
        let (s, _) = try summaryOf(path, params: mine, gpu: gpuOptions, preset: gpu, sink: sink)
        return (s, s.kernel)
    }

    /// The parameters of a side's kernel that set the problem's size rather than derive from
    /// others (their default is a number or a dtype): where both sides have one, it must agree.
    /// A trace's kernel is looked up from its header; nil when it cannot be.
    func problemSizes(_ path: String) -> Set<String>? {
        var file = path
        if TraceReader.looksLikeTrace(path) {
            guard let t = try? TraceReader.read(path, sinkFor: { _ in nil }) else { return nil }
            file = t.file
        }
        guard case .success(let p)? = try? Runner.load(file) else { return nil }
        return p.entryKernel.literalParams
    }

    /// The measured trace at `path`, if it is one: its summary, GPU and launch events.
    func measuredTrace(_ path: String) throws -> (RunSummary, GPUModel?, [Event])? {
        guard TraceReader.looksLikeTrace(path) else { return nil }
        let events = EventCollector()
        let t: TraceReader.Trace
        // Only a measured trace's events are kept (a simulated one can hold millions).
        do { t = try TraceReader.read(path) { $0.source == "measured" ? events : nil } } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
        guard t.summary.measured != nil else { return nil }
        return (t.summary, t.gpu, events.events)
    }

    func run() throws {
        let overrides = try parseKernelParams(params)
        var known = Set<String>()
        for p in [a, b] where !TraceReader.looksLikeTrace(p) {
            if case .success(let prog)? = try? Runner.load(p) { known.formUnion(prog.entryKernel.params.map(\.name)) }
        }
        for name in overrides.keys where !known.contains(name) {
            throw ValidationError("--\(name): neither kernel has a parameter '\(name)'")
        }
        let ma = try measuredTrace(a), mb = try measuredTrace(b)
        if ma != nil || mb != nil { return try launchDiff(ma, mb) }
        let (x, la) = try summary(a), (y, lb) = try summary(b)
        let labels = la == lb ? ("A (\(la))", "B (\(lb))") : (la, lb)
        let differences = RunDiff.differences(x, sizes: problemSizes(a), y, sizes: problemSizes(b))
        if !differences.isEmpty {
            guard allowMismatch else {
                printError("gpusim: error: the two sides are not comparable: \(differences.joined(separator: "; ")) (--allow-mismatch compares them anyway)")
                throw ExitCode(2)
            }
            if !json { for line in differences { print("note: \(line)") } }
        }
        let d = RunDiff(x, y, labels: labels, differences: differences)
        if json {
            try printJSON(d)
            return
        }
        let w = max(24, labels.0.count + 2, labels.1.count + 2)
        print("".padding(toLength: 26, withPad: " ", startingAt: 0) + labels.0.leftPadded(w) + labels.1.leftPadded(w) + "   B / A")
        for r in d.rows {
            func fmt(_ v: Double, _ unit: String) -> String {
                switch unit {
                case "bytes": return fmtBytes(Int64(v))
                case "flops": return group(v)
                case "seconds": return fmtSeconds(v)
                default: return group(v) + " " + unit
                }
            }
            let ratio = r.ratio.map { String(format: "%8.2fx", $0) } ?? "       -"
            print(r.label.padding(toLength: 26, withPad: " ", startingAt: 0) + fmt(r.a, r.unit_a).leftPadded(w) + fmt(r.b, r.unit_b).leftPadded(w) + ratio)
        }
        print("Verdict".padding(toLength: 26, withPad: " ", startingAt: 0) + "\(d.verdictA)-bound".leftPadded(w) + "\(d.verdictB)-bound".leftPadded(w))
        for h in d.headlines { print(h) }
    }

    /// A simulation (or a second measurement) against a measured trace, launch by launch.
    func launchDiff(_ ma: (RunSummary, GPUModel?, [Event])?, _ mb: (RunSummary, GPUModel?, [Event])?) throws {
        // The simulated side runs on the measured GPU unless --gpu says otherwise.
        let measuredGPU = ma?.1 ?? mb?.1
        let runGPU = gpuOptions.given ? nil : measuredGPU
        func side(_ path: String, _ m: (RunSummary, GPUModel?, [Event])?) throws -> (label: String, launches: [LaunchFigures], gpu: String) {
            if let (s, g, events) = m {
                return ("\(s.kernel) (measured, \(s.measured!.tool))", LaunchFigures.measured(events, summary: s), g?.name ?? s.gpu)
            }
            let (s, _) = try summary(path, gpu: runGPU)
            let source = TraceReader.looksLikeTrace(path) ? nil : try? Runner.readSource(path)
            return ("\(s.kernel) (simulated)", LaunchFigures.simulated(s, source: source), s.gpu)
        }
        let x = try side(a, ma), y = try side(b, mb)
        let d = LaunchDiff(simulated: x.launches, measured: y.launches, labels: (x.label, y.label))
        if json {
            try printJSON(d)
            return
        }
        print(LaunchDiffReport.text(d, gpus: (x.gpu, y.gpu)))
    }
}