import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

@Suite struct DiffTests {
    func summary(_ kernel: String, _ params: [String: ParamValue]) throws -> RunSummary {
        try Runner.run(try program(kernel), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: params))
    }

    @Test func flashVersusTwoDAtTheSeedsSweepPoint() throws {
        let p: [String: ParamValue] = ["N": .int(4096), "d": .int(128)]
        let d = RunDiff(try summary("Kernels/flash_attention.kern", p), try summary("Kernels/attention_2d.kern", p), labels: ("flash", "2d"))
        let traffic = try #require(d.rows.first { $0.metric == "hbm_traffic_bytes" })
        #expect((traffic.ratio! * 10).rounded() / 10 == 3.1)
        // S and P only exist in the 2D kernel: no ratio, all of B.
        let s = try #require(d.rows.first { $0.metric == "tensor_S_traffic_bytes" })
        #expect(s.a == 0 && s.b == Double(2 * 4096 * 4096 * 2) && s.ratio == nil)
        #expect(d.headlines.first == "HBM traffic: flash is 3.1x lower than 2d")
        #expect(d.verdictA == "compute" && d.verdictB == "memory")
    }

    /// Problem sizes both kernels take must agree; tile sizes each algorithm derives may not.
    @Test func differencesNameWhatIsNotLikeForLike() throws {
        let flash = try summary("Kernels/flash_attention.kern", ["N": .int(1024)])
        let twoD = try summary("Kernels/attention_2d.kern", ["N": .int(1024)])
        let sizes = { (k: String) in try program(k).entryKernel.literalParams }
        #expect(try sizes("Kernels/flash_attention.kern") == ["N", "d", "dt", "acc", "usage"])
        #expect(flash.params["Br"] != twoD.params["Br"])
        #expect(try RunDiff.differences(flash, sizes: sizes("Kernels/flash_attention.kern"), twoD, sizes: sizes("Kernels/attention_2d.kern")).isEmpty)
        let bigger = try summary("Kernels/attention_2d.kern", ["N": .int(2048), "d": .int(32)])
        #expect(try RunDiff.differences(flash, sizes: sizes("Kernels/flash_attention.kern"), bigger, sizes: nil) == ["N = 1024 vs 2048", "d = 64 vs 32"])
        let real = try Runner.run(try program("Kernels/flash_attention.kern"), options: RunOptions(gpu: GPUModel.preset(named: "h100-sxm")!, overrides: ["N": .int(1024)]))
        #expect(RunDiff.differences(flash, sizes: nil, real, sizes: nil).prefix(2) == ["preset seed-a100 vs h100-sxm", "time in cycles vs seconds"])
        // Unlike units get no ratio.
        let d = RunDiff(flash, real, labels: ("a", "b"))
        let time = try #require(d.rows.first { $0.metric == "time" })
        #expect(time.unit_a == "cycles" && time.unit_b == "seconds" && time.ratio == nil)
        #expect(d.rows.allSatisfy { $0.metric.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } })
    }

    @Test func perTensorTrafficAddsUpToTheTotal() throws {
        let s = try summary("Kernels/attention_2d.kern", ["N": .int(700)])
        let sum = s.tensors.values.reduce(Int64(0)) { $0 + $1.read_bytes + $1.write_bytes }
        #expect(sum == s.hbm.total_bytes)
        #expect(s.phases.count == 3)
        #expect(s.phases.map(\.label) == ["parallel for i in tiles(N, Br)", "parallel for r in tiles(N, Rs)", "parallel for i in tiles(N, Br)"])
        #expect(s.phases.reduce(Int64(0)) { $0 + $1.read_bytes + $1.write_bytes } == s.hbm.total_bytes)
    }
}
