import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

@Suite struct TraceReaderTests {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "gpusim-trace-\(getpid())-\(UUID().uuidString.prefix(6)).jsonl"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsAGoldenTraceIntoTheSameProfileAsALiveRun() throws {
        let live = StatementProfile()
        let s = try Runner.run(try program("Kernels/attention_2d.kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), extraSink: live)
        let fromTrace = StatementProfile()
        let t = try TraceReader.read(packageRoot.appendingPathComponent("Traces/attention_2d.jsonl").path, into: fromTrace)
        #expect(t.summary == s)
        #expect(t.kernel == "attention_2d" && t.file == "Kernels/attention_2d.kern")
        #expect(t.params["Br"] == .int(278))
        #expect(fromTrace.byLocation == live.byLocation)
        #expect(fromTrace.iterations == live.iterations)
        let tile: Int64 = 65_536 * 2, square: Int64 = 1_048_576 * 2
        let expected: [String: Int64] = ["Q": tile, "K": 4 * tile, "S": square, "P": square, "V": 4 * tile]
        #expect(fromTrace.hbmRead == expected)
    }

    @Test func refusesWhatIsNotATrace() throws {
        let p1 = try write("kernel k {\n}\n")
        defer { unlink(p1) }
        #expect { try TraceReader.read(p1) } throws: { "\($0)".contains("is not a gpusim JSONL trace") }
        let golden = try String(contentsOf: packageRoot.appendingPathComponent("Traces/standard_attention.jsonl"), encoding: .utf8)
        let p2 = try write(golden.replacingOccurrences(of: "\"version\":1", with: "\"version\":99"))
        defer { unlink(p2) }
        #expect { try TraceReader.read(p2) } throws: { "\($0)".contains("schema version 99; this gpusim reads version 1") }
        let lines = golden.split(separator: "\n")
        let p3 = try write(lines.dropLast().joined(separator: "\n") + "\n")
        defer { unlink(p3) }
        #expect { try TraceReader.read(p3) } throws: { "\($0)".contains("is truncated") }
        var broken = lines
        broken[3] = "{\"seq\": oops"
        let p4 = try write(broken.joined(separator: "\n") + "\n")
        defer { unlink(p4) }
        #expect { try TraceReader.read(p4, into: StatementProfile()) } throws: { "\($0)".contains("line 4 is not a valid event") }
    }

    @Test func medianOfOddAndEven() {
        #expect(Benchmark.median([3, 1, 2]) == 2)
        #expect(Benchmark.median([4, 1, 3, 2]) == 2.5)
    }
}
