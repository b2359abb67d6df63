import Foundation
import Testing
import KernLang
@testable import Simulator
import TestSupport

/// Golden traces: Traces/<kernel>.jsonl is each shipped attention kernel at its defaults on
/// seed-a100, written by scripts/regenerate-traces.sh. Any drift in the simulator fails here.
@Suite struct TraceTests {
    static let goldenKernels = ["standard_attention", "attention_1d", "attention_2d", "flash_attention"]

    func trace(_ kernel: String, format: Runner.TraceFormat = .jsonl) throws -> (String, RunSummary) {
        let path = temporaryPath("\(kernel).trace")
        defer { unlink(path) }
        let s = try Runner.run(try program("Kernels/\(kernel).kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!),
                               tracePath: path, traceFormat: format)
        return (try String(contentsOfFile: path, encoding: .utf8), s)
    }

    @Test(arguments: goldenKernels)
    func matchesGolden(_ kernel: String) throws {
        let golden = try String(contentsOf: packageRoot.appendingPathComponent("Traces/\(kernel).jsonl"), encoding: .utf8)
        let (text, _) = try trace(kernel)
        let a = golden.split(separator: "\n"), b = text.split(separator: "\n")
        #expect(a.count == b.count, "event count drifted")
        if let i = Array(zip(a, b)).firstIndex(where: { $0 != $1 }) {
            Issue.record("first difference at line \(i + 1):\n golden: \(a[i])\n now:    \(b[i])")
        }
    }

    /// A trace's clock is the summary's: timestamps never go back, and the last event (the run's
    /// end) is at `time.total`, on every shipped kernel, on a seed and a real preset (whose time
    /// adds idle wave slots, per-launch overlap and launch overhead after the last statement).
    @Test(arguments: shippedKernels())
    func traceEndsAtTheSummaryTime(_ kernel: String) throws {
        for gpu in ["seed-a100", "h100-sxm"] {
            let events = EventCollector()
            let params = (smallSizes[kernel] ?? [:]).mapValues { ParamValue.int($0) }
            let s = try Runner.run(try program(kernel), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params), extraSink: events)
            let times = events.events.map(\.time)
            #expect(events.events.last?.kind == .end, "\(kernel) on \(gpu)")
            #expect(times.last == s.time.total, "\(kernel) on \(gpu): trace ends at \(times.last ?? 0), summary says \(s.time.total)")
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "\(kernel) on \(gpu): a timestamp goes back")
            // The event count is known without writing the trace (what --max-trace-bytes estimates from).
            let unsunk = try Interpreter(program: try program(kernel), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params)).run()
            #expect(unsunk.counts.events == Int64(events.events.count) && s.counts.events == unsunk.counts.events, "\(kernel) on \(gpu): event count")
        }
    }

    /// Chrome traces at every detail level are well formed: known phases with their fields,
    /// launch spans (B/E) balanced and enclosing every slice written while they were open, no
    /// two slices of a track overlapping, counters numeric; seed presets put 1 cycle at 1 ns, so
    /// the end of the run sits at time.total cycles / 1000 us.
    @Test(arguments: [("Kernels/flash_attention.kern", "seed-a100"), ("Kernels/flash_attention.kern", "h100-sxm"),
                      ("Kernels/models/tiny_mlp_stack.kern", "h100-sxm"), ("Kernels/models/tiny_mlp_stack.kern", "seed-a100"),
                      ("Kernels/models/llama2_7b.kern", "a100-80gb")])
    func chromeTracesAreWellFormed(_ kernel: String, _ gpu: String) throws {
        let params = (smallSizes[kernel] ?? [:]).mapValues { ParamValue.int($0) }
        for detail in TraceDetail.allCases {
            let path = temporaryPath("chrome-\(detail).json")
            defer { unlink(path) }
            let s = try Runner.runNumeric(try program(kernel), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params), numeric: nil,
                                          tracePath: path, traceFormat: .chrome, traceDetail: detail).summary
            let at = "\(kernel) on \(gpu), \(detail)"
            let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            let events = try #require(root["traceEvents"] as? [[String: Any]])
            var open: [(ts: Double, slices: [(Double, Double)])] = [], spans = 0, slices = 0
            var trackEnd: [Int: Double] = [:]
            var last = 0.0
            for e in events {
                let ph = e["ph"] as? String ?? "?", ts = e["ts"] as? Double ?? (e["ts"] as? Int).map(Double.init)
                #expect(["M", "X", "B", "E", "C", "i"].contains(ph), "\(at): phase \(ph)")
                if ph != "M" { #expect(ts != nil, "\(at): \(ph) without ts") }
                let t = ts ?? 0
                last = Swift.max(last, t)
                switch ph {
                case "X":
                    let dur = (e["dur"] as? Double) ?? (e["dur"] as? Int).map(Double.init) ?? -1
                    let tid = e["tid"] as? Int ?? -1
                    #expect(dur >= 0 && tid > 0, "\(at): slice fields")
                    #expect(t >= (trackEnd[tid] ?? 0) - 1e-9, "\(at): slices overlap on track \(tid)")
                    trackEnd[tid] = t + dur
                    if !open.isEmpty { open[open.count - 1].slices.append((t, t + dur)) }
                    slices += 1
                case "B": open.append((t, []))
                case "E":
                    guard let b = open.popLast() else { Issue.record("\(at): E without B"); continue }
                    #expect(t >= b.ts, "\(at): span ends before it begins")
                    #expect(b.slices.allSatisfy { $0.0 >= b.ts - 1e-9 && $0.1 <= t + 1e-9 }, "\(at): a slice outside its launch span")
                    if !open.isEmpty { open[open.count - 1].slices += b.slices }
                    spans += 1
                case "C": #expect((e["args"] as? [String: Any])?.values.allSatisfy { $0 is NSNumber } == true, "\(at): counter args")
                default: break
                }
            }
            #expect(open.isEmpty, "\(at): unclosed spans")
            #expect(spans == Int(s.counts.launches), "\(at): a span per launch")
            #expect((slices == 0) == (detail == .launch), "\(at): slices only above launch detail")
            let scale = gpu.hasPrefix("seed") ? 1e-3 : 1e6
            #expect(abs(last - s.time.total * scale) <= 1e-9 * Swift.max(1, last), "\(at): ends at \(last), summary \(s.time.total * scale)")
        }
    }

    @Test func jsonlHasHeaderEventsAndSummary() throws {
        let (text, summary) = try trace("flash_attention")
        let lines = text.split(separator: "\n")
        let header = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(header["schema"] as? String == "gpusim-trace")
        #expect(header["version"] as? Int == traceSchemaVersion)
        #expect((header["params"] as? [String: Any])?["Br"] as? Int == 199)
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        #expect(last["summary"] != nil)
        #expect(Int64(lines.count - 2) == summary.counts.events)
        // Events are numbered and their read bytes add up to the summary.
        var reads: Int64 = 0, seq = 0
        for l in lines.dropFirst().dropLast() {
            let e = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            seq += 1
            #expect(e["seq"] as? Int == seq)
            if e["kind"] as? String == "load" { reads += (e["bytes"] as! NSNumber).int64Value }
        }
        #expect(reads == summary.hbm.read_bytes)
    }

    @Test func chromeTraceIsValidJSONWithSlicesAndCounters() throws {
        let (text, _) = try trace("attention_2d", format: .chrome)
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let events = obj["traceEvents"] as! [[String: Any]]
        let phases = Set(events.compactMap { $0["ph"] as? String })
        #expect(phases.isSuperset(of: ["X", "C", "M"]))
        // Slices on one track never overlap (Perfetto requires nesting).
        for tid in [1, 2] {
            let slices = events.filter { $0["ph"] as? String == "X" && $0["tid"] as? Int == tid }
                .map { (($0["ts"] as! NSNumber).doubleValue, ($0["dur"] as! NSNumber).doubleValue) }
            #expect(!slices.isEmpty)
            for (a, b) in zip(slices, slices.dropFirst()) { #expect(b.0 >= a.0 + a.1 - 1e-6) }
        }
    }

    /// With a trace, fast-forward replays the recorded iteration's events: the file must be the
    /// one a full simulation writes, byte for byte.
    /// On a seed preset and a real one (whose clock times each launch on its own).
    @Test(arguments: shippedKernels())
    func replayedTracesEqualFullSimulation(_ path: String) throws {
        let p = try program(path)
        for gpu in ["seed-a100", "h100-sxm"] {
        let options = RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: smallModelParams[path] ?? [:])
        func trace(fastForward: Bool) throws -> String {
            let collector = EventCollector()
            let interp = Interpreter(program: p, options: options, sink: collector)
            interp.fastForward = fastForward
            let s = try interp.run()
            return "\(s.counts.events) " + collector.events.map { "\($0.seq) \($0.time) \($0.kind) \($0.op) \($0.name) \($0.rows)x\($0.cols) \($0.bytes) \($0.flops) \($0.sramBytes) \($0.dramBytes) \($0.loc)" }.joined(separator: "\n")
        }
        #expect(try trace(fastForward: true) == trace(fastForward: false), "\(path) on \(gpu)")
        }
    }

    @Test func summaryModeKeepsFastForward() throws {
        let path = temporaryPath("summary.jsonl")
        defer { unlink(path) }
        let options = RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(1_048_576), "d": .int(128)])
        let s = try Runner.run(try program("Kernels/flash_attention.kern"), options: options, tracePath: path, traceMode: .summary)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        // Q once, K and V once per 158-row query tile (6,637 of them): N d (1 + 2 x 6637) elements.
        let expected: Int64 = 1_048_576 * 128 * (1 + 2 * 6_637)
        #expect(s.hbm.read_elements == expected)
        // The summary still counts the events a full trace would hold (Q, K, V loads and the
        // rest: at least one per key tile of each of the 6,637 query tiles).
        #expect(s.counts.events > 6_637 * 6_637)
        struct Closing: Decodable { var summary: RunSummary }
        #expect(try JSONDecoder().decode(Closing.self, from: Data(lines[1].utf8)).summary == s)
    }

    @Test func failedRunLeavesNoFile() throws {
        let path = temporaryPath("fail.jsonl")
        let p = try programFromText("kernel k {\n    param N = 8\n    input Q[N, N] f16\n    a = load Q\n    b = a @ zeros(4, 4)\n}\n")
        #expect(throws: SimulationError.self) {
            _ = try Runner.run(p, options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), tracePath: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        let dir = (path as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains((path as NSString).lastPathComponent) }
        #expect(leftovers.isEmpty)
    }

    @Test func eventsCarrySourceLocationsAndOccupancy() throws {
        let collector = EventCollector()
        _ = try run("Kernels/standard_attention.kern", sink: collector)
        let kinds = collector.events.map(\.kind)
        #expect(kinds.filter { $0 == .load }.count == 3)
        #expect(kinds.filter { $0 == .store }.count == 1)
        #expect(kinds.filter { $0 == .alloc }.count == 4)
        let softmax = collector.events.first { $0.op == "softmax" }!
        #expect(softmax.line == 20)
        #expect(softmax.sramBytes == 73_728 * 2)
        #expect(collector.events.map(\.seq) == Array(1...Int64(collector.events.count)))
    }
}
