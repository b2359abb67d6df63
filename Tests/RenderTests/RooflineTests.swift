import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import KernLang
import Simulator
import Analysis
@testable import Render
import TestSupport

@Suite struct RooflineTests {
    func summary(_ kernel: String, gpu: String, _ params: [String: ParamValue]) throws -> (RunSummary, GPUModel) {
        let g = GPUModel.preset(named: gpu)!
        return (try Runner.run(try program(kernel), options: RunOptions(gpu: g, overrides: params)), g)
    }

    @Test func ridgePointsAndIntensities() throws {
        let (s, g) = try summary("Kernels/attention_2d.kern", gpu: "a100-80gb", ["N": .int(2048)])
        let r = Roofline(summary: s, gpu: g)
        #expect(abs(r.ridge - 312e12 / 2039e9) < 1e-9)
        #expect(abs(r.ridge_vector - 19.5e12 / 2039e9) < 1e-9)
        #expect(r.total.intensity == Double(s.flops.total) / Double(s.hbm.total_bytes))
        #expect(r.phases.count == 3)
        // The softmax phase reads N^2 f16 scores and does 19 FLOPs per score; the N^2 scores it
        // writes (8.4 MB) stay dirty in the 20 MB of L2 when it ends: 19 FLOPs per 2 bytes.
        #expect(abs(r.phases[1].intensity - 19.0 / 2.0) < 1e-12)
        #expect(r.phases[1].bound == .memory)
        let (seed, sg) = try summary("Kernels/flash_attention.kern", gpu: "seed-a100", ["N": .int(4096), "d": .int(128)])
        let rs = Roofline(summary: seed, gpu: sg)
        #expect(rs.ridge == 75)
        #expect(rs.total.bound == .compute)
    }

    /// A run whose products ran on mma.sync gets that lower roof, at the preset's rate, from
    /// where it meets the HBM slope; a run on the full path (or on a one-path GPU) does not.
    @Test func mmaSyncRoofOnlyWhereTheRunUsedIt() throws {
        let (fa2, h100) = try summary("Kernels/stack/sdpa_flash.kern", gpu: "h100-sxm", ["arch": .int(80)])
        let r = Roofline(summary: fa2, gpu: h100)
        #expect(r.peak_mma_sync == h100.warpMatmulFlops)
        let svg = RooflineChart.svg(r, title: "t")
        #expect(svg.contains("class=\"ceiling compute mma-sync\"") && svg.contains("dashed: on mma.sync, 659.33T FLOP/s"))
        #expect(SVGStructure.parse(Data(svg.utf8)) != nil)
        let (wgmma, _) = try summary("Kernels/stack/sdpa_flash.kern", gpu: "h100-sxm", [:])
        #expect(Roofline(summary: wgmma, gpu: h100).peak_mma_sync == nil)
        let (a100, ga) = try summary("Kernels/stack/sdpa_flash.kern", gpu: "a100-80gb", ["arch": .int(80)])
        #expect(!RooflineChart.svg(Roofline(summary: a100, gpu: ga), title: "t").contains("mma-sync"))
    }

    @Test func chartHasCeilingsAndPoints() throws {
        let (s, g) = try summary("Kernels/attention_2d.kern", gpu: "h100-sxm", ["N": .int(1024)])
        let svg = RooflineChart.svg(Roofline(summary: s, gpu: g), title: "t")
        let parsed = try #require(SVGStructure.parse(Data(svg.utf8)))
        _ = parsed
        #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 4)
        #expect(svg.contains("class=\"ceiling memory\"") && svg.contains("class=\"ceiling compute\""))
        #expect(svg.contains("tensor cores: 989T FLOP/s"))
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }

    @Test func l2HasACeilingAndEachPointARing() throws {
        let (s, g) = try summary("Kernels/stack/sdpa_flash.kern", gpu: "h100-sxm", ["N": .int(2048)])
        let r = Roofline(summary: s, gpu: g)
        #expect(r.l2_bandwidth == g.l2Bandwidth)
        // The same FLOPs over the bytes that went through L2 (the K/V re-reads the blocks share).
        #expect(r.total.l2_intensity == Double(s.flops.total) / Double(s.l2!.bytes!))
        #expect(r.total.l2_intensity! < r.total.intensity)
        let svg = RooflineChart.svg(r, title: "t")
        #expect(svg.contains("class=\"ceiling l2\"") && svg.contains("class=\"point-l2\"") && svg.contains("L2: 9.4T bytes per s"))
        // One grid is the whole run: its phase is not drawn again on top of the run's point.
        #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 1)
        let (seed, sg) = try summary("Kernels/flash_attention.kern", gpu: "seed-a100", [:])
        #expect(!RooflineChart.svg(Roofline(summary: seed, gpu: sg), title: "t").contains("ceiling l2"))
    }
}
