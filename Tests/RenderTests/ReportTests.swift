import Foundation
import Testing
import KernLang
@testable import Simulator
import Render
import TestSupport

/// The HTML report's summary table: what a real preset adds to the seed's figures.
@Suite struct ReportTests {
    func rows(_ kernel: String, gpu: String, _ params: [String: ParamValue] = [:]) throws -> String {
        let g = GPUModel.preset(named: gpu)!
        let s = try Runner.run(try program(kernel), options: RunOptions(gpu: g, overrides: params))
        return HTMLReport.html(summary: s, gpu: g, roofline: "", graph: "", timeline: "")
    }

    @Test func realPresetsShowL2WavesAndLaunches() throws {
        let real = try rows("Kernels/stack/linear.kern", gpu: "a100-80gb")
        // Its 256 x 512 f16 output (262 KB) fits in L2, so it is all still dirty when the launch ends.
        #expect(real.contains("<th>L2</th><td>SMs read 4.20 MB, 3.41 MB (81 %) of it L2 hits; wrote 262 KB, 262 KB still dirty in L2 at launch ends (--cache flush)"))
        #expect(real.contains("launch overhead 3.00 us (in total)"))
        let seed = try rows("Kernels/stack/linear.kern", gpu: "seed-a100")
        #expect(!seed.contains("<th>L2</th>") && !seed.contains("launch overhead"))
    }

    /// The verdict carries the terminal's notes: 16 x 16 FlashAttention tiles are bound by their
    /// blocks' steps (2,048 blocks of 129 steps), which the report says under "compute-bound".
    @Test func verdictSaysWhatSetsTheTime() throws {
        let html = try rows("Kernels/stack/sdpa_flash.kern", gpu: "h100-sxm", ["Br": .int(16), "Bc": .int(16)])
        #expect(html.contains("<b>compute-bound</b>"))
        #expect(html.contains("<br>the compute time is its thread blocks' steps"))
        #expect(!html.contains("<br>compute time includes"))
    }
}

@Suite struct BoundNoteTests {
    /// Where a verdict needs a word: idle wave slots inside compute time, and phases that
    /// disagree with the whole run (one definition, stated where run and roofline print it).
    @Test func notesSayWhatTheVerdictCounts() {
        var s = RunSummary()
        s.bound = .memory
        s.time.unit = .seconds
        s.time.wave_idle = 2e-6
        func phase(_ line: Int, _ b: Bound) -> RunSummary.Phase {
            RunSummary.Phase(label: "l", line: line, read_bytes: 0, write_bytes: 0, flops: 0, time_compute: 0, time_memory: 0, time_total: 0, bound: b)
        }
        s.phases = [phase(3, .memory), phase(9, .compute)]
        #expect(boundNotes(s) == ["compute time includes 2.00 us of SMs idle in partial last waves", "line 9 is compute-bound on its own"])
        s.phases = [phase(3, .compute)]   // every phase disagrees: the run's verdict is theirs in sum, nothing to single out
        s.time.wave_idle = nil
        #expect(boundNotes(s).isEmpty)
        s.bound = .unknown
        #expect(boundNotes(s).isEmpty)
        // Compute set by the blocks' steps rather than the FLOPs (the floor equals the compute time).
        s.bound = .compute
        s.phases = []
        s.time.compute = 3e-4
        s.time.block_steps = 3e-4
        s.counts.warp_steps = 1_089_792
        #expect(boundNotes(s) == ["the compute time is its thread blocks' steps (1,089,792 warp-steps: block starts and loop iterations), not its FLOPs: larger tiles do more per step"])
        s.time.block_steps = 1e-4
        #expect(boundNotes(s).isEmpty)
        // Memory-bound with most of the DRAM bytes in row kernels (a norm): why it is slower than a copy.
        s.bound = .memory
        s.hbm.read_bytes = 60
        s.hbm.write_bytes = 40
        s.counts.row_reduction_bytes = 51
        s.time.row_reductions = 9.86e-6
        #expect(boundNotes(s) == ["most of its DRAM traffic is in row kernels, whose blocks reduce each row before they store it and stream slower than a copy (9.86 us of the memory time)"])
        s.counts.row_reduction_bytes = 50   // half is not most
        #expect(boundNotes(s).isEmpty)
    }
}

@Suite struct AxisUnitTests {
    /// Axes read in engineering units, three significant digits (the timeline printed "8.74e-06 s").
    @Test func secondsInEngineeringUnits() {
        #expect(engineeringSeconds(8.74e-6) == "8.74 us")
        #expect(engineeringSeconds(0.0123) == "12.3 ms")
        #expect(engineeringSeconds(2.5) == "2.5 s")
        #expect(engineeringSeconds(4.2e-10) == "420 ps")
        #expect(engineeringSeconds(0) == "0")
    }
}
