import Foundation
import Testing
import KernLang
import Simulator
import Analysis
import TestSupport

/// The binary trace holds exactly what the JSONL trace holds: converting one to the other
/// gives the bytes a JSONL run writes, and damaged files are reported, never trusted.
@Suite struct BinaryTraceTests {
    func temp(_ ext: String) -> String {
        NSTemporaryDirectory() + "gpusim-bin-\(getpid())-\(UUID().uuidString.prefix(8)).\(ext)"
    }

    func options(_ kernel: String, gpu: String = "seed-a100") -> RunOptions {
        RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: (smallSizes[kernel] ?? [:]).mapValues { .int($0) })
    }

    /// On the seed's model and on a real preset (waves, launch overheads, L2 hits in load events).
    @Test(arguments: shippedKernels(), ["seed-a100", "a100-80gb"])
    func convertsToTheJSONLTraceByteForByte(_ kernel: String, _ gpu: String) throws {
        let p = try program(kernel)
        func options(_ kernel: String) -> RunOptions { self.options(kernel, gpu: gpu) }
        let jsonl = temp("jsonl"), binary = temp("gstrace"), converted = temp("jsonl")
        defer { for f in [jsonl, binary, converted] { unlink(f) } }
        let s1 = try Runner.run(p, options: options(kernel), tracePath: jsonl)
        let s2 = try Runner.run(p, options: options(kernel), tracePath: binary, traceFormat: .binary)
        #expect(s1 == s2)
        let header = try TraceReader.read(binary).header
        let writer = try JSONLTraceWriter(path: converted, header: header)
        let trace = try TraceReader.read(binary, into: writer)
        try writer.finish(summary: trace.summary)
        let a = try Data(contentsOf: URL(fileURLWithPath: jsonl)), b = try Data(contentsOf: URL(fileURLWithPath: converted))
        #expect(a == b, "\(kernel): the converted trace differs from the JSONL one")
        // Beyond the header and summary (the same JSON in both), events take a quarter of the space or less.
        let binarySize = try Data(contentsOf: URL(fileURLWithPath: binary)).count
        if a.count > 50_000 { #expect(binarySize * 4 < a.count, "\(kernel): binary \(binarySize) bytes vs JSONL \(a.count)") }
    }

    @Test func loadEventsCarryWhatHBMServed() throws {
        let kernel = "Kernels/stack/linear.kern"
        let path = temp("gstrace")
        defer { unlink(path) }
        let s = try Runner.run(try program(kernel), options: options(kernel, gpu: "a100-80gb"), tracePath: path, traceFormat: .binary)
        final class Sum: EventSink { var requested: Int64 = 0, dram: Int64 = 0
            func record(_ e: Event) { if e.kind == .load { requested += e.bytes; dram += e.dramBytes } } }
        let sum = Sum()
        _ = try TraceReader.read(path, into: sum)
        #expect(sum.requested == s.l2!.read_bytes)
        #expect(sum.dram == s.hbm.read_bytes)
        #expect(sum.dram < sum.requested)
    }

    @Test func theProfileFromABinaryTraceEqualsALiveRun() throws {
        let kernel = "Kernels/flash_attention.kern"
        let path = temp("gstrace")
        defer { unlink(path) }
        let live = StatementProfile()
        _ = try Runner.run(try program(kernel), options: options(kernel), tracePath: path, traceFormat: .binary, extraSink: live)
        let replayed = StatementProfile()
        _ = try TraceReader.read(path, into: replayed)
        #expect(replayed.byLocation == live.byLocation)
        #expect(replayed.hbmRead == live.hbmRead)
        #expect(TraceReader.isBinary(path) && TraceReader.looksLikeTrace(path))
    }

    @Test func damagedFilesAreReportedNotTrusted() throws {
        let kernel = "Kernels/attention_1d.kern"
        let path = temp("gstrace")
        defer { unlink(path) }
        _ = try Runner.run(try program(kernel), options: options(kernel), tracePath: path, traceFormat: .binary)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func read(_ bytes: Data) -> String {
            let p = temp("gstrace")
            defer { unlink(p) }
            _ = FileManager.default.createFile(atPath: p, contents: bytes)
            do { _ = try TraceReader.read(p, into: StatementProfile()); return "ok" } catch { return "\(error)" }
        }
        #expect(read(good) == "ok")
        #expect(read(good.prefix(good.count - 1)).contains("is truncated"))
        #expect(read(good.prefix(good.count / 2)).contains("is truncated"))
        #expect(read(good.prefix(10)).contains("is truncated"))
        var version = good
        version[8] = 7
        #expect(read(version).contains("schema version 7; this gpusim reads version 1"))
        // A count that disagrees with the events.
        var count = good
        count[good.count - 16] &+= 1
        #expect(read(count).contains("its trailer says"))
        // Every single-byte corruption of the event stream either still decodes or is reported.
        let headerEnd = 16 + Int(good[12]) + Int(good[13]) << 8
        var reported = 0
        for offset in stride(from: headerEnd, to: min(good.count - 24, headerEnd + 3000), by: 7) {
            var bad = good
            bad[offset] ^= 0xA5
            let r = read(bad)
            if r != "ok" { reported += 1; #expect(r.contains("malformed") || r.contains("trailer says") || r.contains("site")) }
        }
        #expect(reported > 0)
    }

    @Test func summaryModeWritesAnEventlessBinaryTrace() throws {
        let kernel = "Kernels/flash_attention.kern"
        let path = temp("gstrace")
        defer { unlink(path) }
        let s = try Runner.run(try program(kernel), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(1 << 20), "d": .int(128)]),
                               tracePath: path, traceFormat: .binary, traceMode: .summary)
        let t = try TraceReader.read(path, into: StatementProfile())
        #expect(t.summary == s)
        let size = try Data(contentsOf: URL(fileURLWithPath: path)).count
        #expect(size < 20_000)
    }
}
