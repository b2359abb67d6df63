import Foundation
import Testing
import KernLang
@testable import Simulator

/// The seed notebooks' published figures (shared/reference/seed-simulator.md), reproduced
/// exactly on seed-a100: reads/writes in elements, compute cycles to 0.1, peak SRAM in elements.
@Suite struct SeedFigureTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let kernel: String, N: Int64, d: Int64, tile: Int64?
        let reads: Int64, writes: Int64, cycles: Double, peak: Int64
        var testDescription: String { "\(kernel) N=\(N) d=\(d)" }
    }

    static let table: [Case] = [
        Case(kernel: "standard_attention", N: 128, d: 64, tile: nil, reads: 24_576, writes: 8_192, cycles: 30_146.6, peak: 73_728),
        Case(kernel: "standard_attention", N: 512, d: 64, tile: nil, reads: 98_304, writes: 32_768, cycles: 482_345.0, peak: 884_736),
        Case(kernel: "attention_1d", N: 512, d: 64, tile: 40, reads: 98_304, writes: 32_768, cycles: 482_345.0, peak: 126_976),
        Case(kernel: "attention_2d", N: 1024, d: 64, tile: 278, reads: 2_686_976, writes: 2_162_688, cycles: 1_931_127.5, peak: 130_660),
        Case(kernel: "flash_attention", N: 32_768, d: 128, tile: 158, reads: 1_749_024_768, writes: 4_194_304, cycles: 3_769_655_186.8, peak: 111_074),
        Case(kernel: "attention_2d", N: 32_768, d: 128, tile: 217, reads: 3_426_746_368, writes: 2_151_677_952, cycles: 3_812_454_563.8, peak: 130_417),
    ]

    @Test(arguments: table)
    func publishedFigure(_ c: Case) throws {
        // Tile sizes come from the kernels' own rules for the preset; the table's tile is checked, not passed.
        let s = try run("Kernels/\(c.kernel).kern", ["N": .int(c.N), "d": .int(c.d)])
        if let tile = c.tile { #expect(s.params["Br"] == .int(tile)) }
        #expect(s.hbm.read_elements == c.reads)
        #expect(s.hbm.write_elements == c.writes)
        #expect(abs(s.time.compute - c.cycles) <= 0.1)
        #expect(s.sram.peak_elements == c.peak)
        #expect(s.sram.overflow == (c.peak > 131_072))
        #expect(s.time.unit == .cycles)
        #expect(s.time.total == s.time.compute + s.time.memory)
    }

    @Test func tileRules() throws {
        func tile(_ k: String, _ N: Int64, _ d: Int64) throws -> ParamValue? {
            let p = try program("Kernels/\(k).kern")
            return try Interpreter(program: p, options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(N), "d": .int(d)])).resolveParams()["Br"]
        }
        #expect(try tile("attention_2d", 1024, 64) == .int(278))
        #expect(try tile("attention_2d", 1024, 128) == .int(217))
        #expect(try tile("flash_attention", 1024, 64) == .int(199))
        #expect(try tile("flash_attention", 1024, 128) == .int(158))
        #expect(try tile("attention_1d", 512, 64) == .int(40))
    }

    @Test func oneDTilingIsImpossibleAtN1024() throws {
        #expect {
            _ = try run("Kernels/attention_1d.kern", ["N": .int(1024), "d": .int(64)])
        } throws: { e in
            guard case SimulationError.kernel(let d) = e else { return false }
            return d.message.hasPrefix("requirement failed: 1D tiling keeps K and V whole in SRAM")
        }
    }

    @Test func overridesReplaceTheTileRule() throws {
        let s = try run("Kernels/flash_attention.kern", ["N": .int(1000), "d": .int(64), "Br": .int(100), "Bc": .int(100)])
        #expect(s.params["Br"] == .int(100))
        // Q once, K and V once per row tile (10 of them), O once.
        let expectedReads: Int64 = 1000 * 64 + 2 * 10 * 1000 * 64
        #expect(s.hbm.read_elements == expectedReads)
        #expect(s.hbm.write_elements == Int64(1000 * 64))
    }

    /// FlashAttention vs naive 2D, d = 128, total HBM traffic in MB (2^20 bytes, 2 bytes/element) as the seed sweep prints it.
    @Test(arguments: [(Int64(1024), 11, 4, 2.8), (4096, 168, 54, 3.1), (16_384, 2_664, 840, 3.2),
                      (32_768, 10_640, 3_344, 3.2), (65_536, 42_496, 13_312, 3.2), (131_072, 169_856, 53_184, 3.2)])
    func flashVersus2DTraffic(_ N: Int64, _ mb2D: Int, _ mbFlash: Int, _ ratio: Double) throws {
        let twoD = try run("Kernels/attention_2d.kern", ["N": .int(N), "d": .int(128)])
        let flash = try run("Kernels/flash_attention.kern", ["N": .int(N), "d": .int(128)])
        let mb = { (s: RunSummary) in Int((Double(s.hbm.total_bytes) / 1_048_576).rounded()) }
        #expect(mb(twoD) == mb2D)
        #expect(mb(flash) == mbFlash)
        #expect((Double(twoD.hbm.total_bytes) / Double(flash.hbm.total_bytes) * 10).rounded() / 10 == ratio)
    }
}
