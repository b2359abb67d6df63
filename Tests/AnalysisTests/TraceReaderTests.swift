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

    /// A launched kernel in another file whose load sits at the same line and column as the
    /// entry kernel's `run`: events and profiles keep the two apart by file, live and through
    /// both trace forms. (Before files were carried, the load's bytes were counted at the `run`.)
    @Test func statementsOfTwoFilesStayApart() throws {
        let inner = SourceFile(path: "inner.kern", text: """
            kernel inner {
                input X[64, 64] f32
                output Y[64, 64] f32
                # padding so that the load is at 5:5, as the run in outer.kern
                x = load X
                store x -> Y
            }
            """)
        let outer = SourceFile(path: "outer.kern", text: """
            import "inner.kern"
            kernel outer {
                input X[64, 64] f32
                output Y[64, 64] f32
                run inner(X = X, Y = Y)
            }
            """)
        let p = try Checker.check(file: outer, loader: { path, _ in path == "inner.kern" ? inner : nil }).get()
        #expect(p.filesByID.map(\.path) == ["outer.kern", "inner.kern"])
        let gpu = GPUModel.preset(named: "h100-sxm")!
        let events = EventCollector(), live = StatementProfile()
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jsonl = dir.appendingPathComponent("t.jsonl").path, binary = dir.appendingPathComponent("t.gstrace").path
        _ = try Runner.run(p, options: RunOptions(gpu: gpu), tracePath: jsonl, extraSink: Tee(events, live))
        _ = try Runner.run(p, options: RunOptions(gpu: gpu), tracePath: binary, traceFormat: .binary)
        let load = try #require(events.events.first { $0.kind == .load })
        let launch = try #require(events.events.first { $0.kind == .launch })
        #expect((load.file, load.line, load.column, load.loc) == (1, 5, 5, "1:5:5"))
        #expect((launch.file, launch.line, launch.column, launch.loc) == (0, 5, 5, "5:5"))
        // The run statement itself moved nothing; the load in inner.kern moved the 64 x 64 f32 tile.
        let runSpan = p.entryKernel.body.stmts.first { if case .launch = $0.kind { return true }; return false }!.span
        let loadSpan = p.kernels.first { $0.name == "inner" }!.body.stmts.first { if case .load = $0.kind { return true }; return false }!.span
        #expect(live.stat(within: runSpan).bytes == 0)
        #expect(live.stat(within: loadSpan, file: 1).bytes == 64 * 64 * 4)
        for path in [jsonl, binary] {
            let replayed = StatementProfile()
            let t = try TraceReader.read(path, into: replayed)
            #expect(t.header.files == ["outer.kern", "inner.kern"], "\(path)")
            #expect(replayed.byLocation == live.byLocation, "\(path)")
        }
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
