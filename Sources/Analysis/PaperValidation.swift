import Foundation
import KernLang
import Simulator

/// The FlashAttention paper's Figure 2 (left) setting, run through gpusim's kernels and
/// compared with the published figures (shared/reference/hardware-and-papers.md).
public struct PaperValidation: Sendable {
    public struct Row: Sendable, Encodable {
        public var metric: String
        public var predicted: Double
        public var published: Double
        public var source: String
        public var tolerance: Double
        public var relativeError: Double { (predicted - published) / published }
        public var within: Bool { abs(relativeError) <= tolerance }
    }

    /// GPT-2 medium attention: batch 64, 16 heads, sequence 1024, head dimension 64.
    public static let setting: [String: ParamValue] = ["B": .int(64), "H": .int(16), "N": .int(1024), "d": .int(64)]
    /// The paper computes its block sizes from M = 192 KB of SRAM per SM (section 2.1), in f16 elements.
    public static let paperSRAMElements: Int64 = 192 * 1024 / 2

    public var rows: [Row] = []
    public var standard: RunSummary
    public var flash: RunSummary
    public var sweep: [(bc: Int64, bytes: Int64, time: Double)] = []
    /// FLOPs by FlashAttention-2's convention: forward 4 N^2 d H B, backward 2.5x forward.
    public var conventionFLOPs: Double

    public init(standard standardProgram: CheckedProgram, flash flashProgram: CheckedProgram, gpu: GPUModel) throws(SimulationError) {
        standard = try Interpreter(program: standardProgram, options: RunOptions(gpu: gpu, overrides: Self.setting)).run()
        var f = Self.setting
        f["M"] = .int(Self.paperSRAMElements)
        flash = try Interpreter(program: flashProgram, options: RunOptions(gpu: gpu, overrides: f)).run()
        conventionFLOPs = 3.5 * 4 * 1024 * 1024 * 64 * 16 * 64
        let gb = 1e9, ms = 1e-3
        rows = [
            Row(metric: "standard HBM traffic (GB)", predicted: Double(standard.hbm.total_bytes) / gb, published: 40.3, source: "arXiv, June 2022", tolerance: 0.10),
            Row(metric: "standard HBM traffic (GB)", predicted: Double(standard.hbm.total_bytes) / gb, published: 35.3, source: "NeurIPS version", tolerance: 0.10),
            Row(metric: "FlashAttention HBM traffic (GB)", predicted: Double(flash.hbm.total_bytes) / gb, published: 4.4, source: "both versions", tolerance: 0.10),
            Row(metric: "standard runtime (ms)", predicted: standard.time.total / ms, published: 41.7, source: "arXiv", tolerance: 0.30),
            Row(metric: "standard runtime (ms)", predicted: standard.time.total / ms, published: 35.1, source: "NeurIPS", tolerance: 0.30),
            Row(metric: "FlashAttention runtime (ms)", predicted: flash.time.total / ms, published: 7.3, source: "arXiv", tolerance: 0.30),
            Row(metric: "FlashAttention runtime (ms)", predicted: flash.time.total / ms, published: 11.7, source: "NeurIPS", tolerance: 0.30),
        ]
        for bc: Int64 in [64, 128, 256, 512] {
            var p = Self.setting
            p["Bc"] = .int(bc)
            let s = try Interpreter(program: flashProgram, options: RunOptions(gpu: gpu, overrides: p)).run()
            sweep.append((bc, s.hbm.total_bytes, s.time.total))
        }
    }

    /// Bytes of the N x N intermediates (the tensors with an N x N trailing shape) in a summary.
    public static func squareTraffic(_ s: RunSummary, names: [String]) -> Int64 {
        names.compactMap { s.tensors[$0] }.reduce(0) { $0 + $1.read_bytes + $1.write_bytes }
    }
}
