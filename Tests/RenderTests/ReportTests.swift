import Foundation
import Testing
import KernLang
import Simulator
import Render
import TestSupport

/// The HTML report's summary table: what a real preset adds to the seed's figures.
@Suite struct ReportTests {
    func rows(_ kernel: String, gpu: String) throws -> String {
        let g = GPUModel.preset(named: gpu)!
        let s = try Runner.run(try program(kernel), options: RunOptions(gpu: g))
        return HTMLReport.html(summary: s, gpu: g, roofline: "", graph: "", timeline: "")
    }

    @Test func realPresetsShowL2WavesAndLaunches() throws {
        let real = try rows("Kernels/stack/linear.kern", gpu: "a100-80gb")
        #expect(real.contains("<th>L2</th><td>the SMs read 4.20 MB; 3.41 MB shared between the blocks of a wave"))
        #expect(real.contains("launch overhead 3.00 us (in total)"))
        let seed = try rows("Kernels/stack/linear.kern", gpu: "seed-a100")
        #expect(!seed.contains("<th>L2</th>") && !seed.contains("launch overhead"))
    }
}
