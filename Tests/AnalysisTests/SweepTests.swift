import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

@Suite struct SweepTests {
    let seed = GPUModel.preset(named: "seed-a100")!

    func fit(_ s: Sweep, _ metric: String, _ p: String) -> Sweep.Fit? { s.fits.first { $0.metric == metric && $0.parameter == p } }

    @Test func standardTwoDTrafficIsQuadratic() throws {
        let s = Sweep(program: try program("Kernels/attention_2d.kern"), gpu: seed,
                      values: [("N", [1024, 2048, 4096, 8192].map { .int($0) }), ("d", [.int(64), .int(128)])])
        #expect(s.points.count == 8 && s.points.allSatisfy { $0.summary != nil })
        let traffic = try #require(fit(s, "HBM traffic", "N"))
        #expect(abs(traffic.exponent - 2) < 0.05)
        #expect(traffic.growth == "N^2")
        #expect(fit(s, "FLOPs", "N")?.growth == "N^2")
        #expect(fit(s, "peak SRAM", "N")?.growth == "constant in N")
    }

    @Test func oneDTilingStopsFitting() throws {
        let s = Sweep(program: try program("Kernels/attention_1d.kern"), gpu: seed, values: [("N", [256, 512, 1024].map { .int($0) })])
        #expect(s.points.map { $0.error == nil } == [true, true, false])
        #expect(s.points[2].error?.contains("requirement failed: 1D tiling keeps K and V whole in SRAM") == true)
        #expect(fit(s, "HBM traffic", "N")?.growth == "N^1")
        #expect(s.csv.split(separator: "\n").count == 4)
    }

    @Test func flashTrafficFallsWithSRAM() throws {
        let s = Sweep(program: try program("Kernels/flash_attention.kern"), gpu: seed,
                      values: [("N", [.int(8192)]), ("usage", [0.125, 0.25, 0.5, 1].map { .float($0) })])
        let e = try #require(fit(s, "HBM traffic", "usage")).exponent
        // The seed's square tiles (B ~ sqrt(M) once B^2 dominates) fall between M^-0.5 and M^-1.
        #expect(e < -0.5 && e > -1)
    }

    @Test func gridIsTheCrossProduct() {
        let g = Sweep.grid([("a", [.int(1), .int(2)]), ("b", [.int(3), .int(4), .int(5)])])
        #expect(g.count == 6)
        #expect(g[1] == ["a": .int(1), "b": .int(4)])
    }
}
