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
        let traffic = try #require(d.rows.first { $0.metric == "HBM traffic" })
        #expect((traffic.ratio! * 10).rounded() / 10 == 3.1)
        // S and P only exist in the 2D kernel: no ratio, all of B.
        let s = try #require(d.rows.first { $0.metric == "  S traffic" })
        #expect(s.a == 0 && s.b == Double(2 * 4096 * 4096 * 2) && s.ratio == nil)
        #expect(d.headlines.first == "HBM traffic: flash is 3.1x lower than 2d")
        #expect(d.verdictA == "compute" && d.verdictB == "memory")
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
