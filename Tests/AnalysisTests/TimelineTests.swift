import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

@Suite struct TimelineTests {
    @Test func followsOccupancyAndTraffic() throws {
        let t = Timeline()
        let s = try Runner.run(try program("Kernels/standard_attention.kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(512)]), extraSink: t)
        #expect(t.samples.map(\.sram).max() == s.sram.peak_bytes)
        #expect(t.samples.last?.traffic == s.hbm.total_bytes)
        #expect(t.overflows.count == Int(s.sram.overflow_count))
        #expect(zip(t.samples, t.samples.dropFirst()).allSatisfy { $0.time <= $1.time })
    }

    @Test func coarseningKeepsThePeak() throws {
        let t = Timeline(limit: 64)
        let s = try Runner.run(try program("Kernels/flash_attention.kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), extraSink: t)
        #expect(t.samples.count <= 64)
        #expect(t.samples.map(\.sram).max() == s.sram.peak_bytes)
        #expect(t.samples.last?.traffic == s.hbm.total_bytes)
    }

    @Test func traceAndLiveRunGiveTheSameTimeline() throws {
        let live = Timeline(), replay = Timeline()
        _ = try Runner.run(try program("Kernels/attention_1d.kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), extraSink: live)
        _ = try TraceReader.read(packageRoot.appendingPathComponent("Traces/attention_1d.jsonl").path, into: replay)
        #expect(live.samples.map(\.sram) == replay.samples.map(\.sram))
        #expect(live.samples.map(\.traffic) == replay.samples.map(\.traffic))
    }
}
