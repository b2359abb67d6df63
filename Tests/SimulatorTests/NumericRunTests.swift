import Foundation
import Testing
import KernLang
import Numerics
@testable import Simulator

/// Numeric runs checked against a straightforward attention written here in Float64.
@Suite struct NumericRunTests {
    struct Inputs { let N: Int, d: Int; let q: [Double], k: [Double], v: [Double] }

    static func inputs(N: Int, d: Int, seed: UInt64 = 11) -> Inputs {
        var rng = SeededRandom(seed: seed)
        func make() -> [Double] { (0..<(N * d)).map { _ in Double(Float(rng.normal())) } }
        return Inputs(N: N, d: d, q: make(), k: make(), v: make())
    }

    /// O = softmax(Q K^T / sqrt(d) [causal]) V in Float64.
    static func reference(_ x: Inputs, causal: Bool) -> [Double] {
        let (N, d) = (x.N, x.d)
        let scale = 1 / Double(d).squareRoot()
        var out = [Double](repeating: 0, count: N * d)
        for i in 0..<N {
            var s = [Double](repeating: -.infinity, count: N)
            for j in 0..<N where !causal || j <= i {
                var dot = 0.0
                for p in 0..<d { dot += x.q[i * d + p] * x.k[j * d + p] }
                s[j] = dot * scale
            }
            let m = s.max()!
            let e = s.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for p in 0..<d {
                var acc = 0.0
                for j in 0..<N { acc += e[j] / z * x.v[j * d + p] }
                out[i * d + p] = acc
            }
        }
        return out
    }

    func run(_ path: String, _ x: Inputs, gpu: String = "seed-a100", dt: String = "f32", extra: [String: ParamValue] = [:], accumulate64: Bool = false) throws -> OutputTensor {
        var numeric = NumericOptions()
        numeric.accumulate64 = accumulate64
        numeric.inputs = ["Q": .init(shape: [x.N, x.d], values: x.q), "K": .init(shape: [x.N, x.d], values: x.k), "V": .init(shape: [x.N, x.d], values: x.v)]
        var params: [String: ParamValue] = ["N": .int(Int64(x.N)), "d": .int(Int64(x.d)), "dt": .dtype(dt)]
        params.merge(extra) { $1 }
        let r = try Runner.runNumeric(try program(path), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params), numeric: numeric)
        return r.outputs["O"]!
    }

    static let attentionKernels: [(String, Bool, [String: ParamValue])] = [
        ("Kernels/standard_attention.kern", false, [:]),
        ("Kernels/attention_1d.kern", false, [:]),
        ("Kernels/attention_2d.kern", false, ["Br": .int(48), "Bc": .int(40)]),       // ragged tiles both ways
        ("Kernels/flash_attention.kern", false, ["Br": .int(48), "Bc": .int(40)]),
        ("Kernels/flash_attention.kern", false, [:]),
        ("Kernels/flash_attention2.kern", false, ["Br": .int(48), "Bc": .int(40)]),
        ("Kernels/standard_attention_causal.kern", true, [:]),
        ("Kernels/flash_attention_causal.kern", true, ["Br": .int(32), "Bc": .int(56)]),
    ]

    @Test(arguments: 0..<attentionKernels.count)
    func matchesFloat64Reference(_ i: Int) throws {
        let (path, causal, extra) = Self.attentionKernels[i]
        let x = Self.inputs(N: 150, d: 24)
        let want = Self.reference(x, causal: causal)
        let got = try run(path, x, extra: extra)
        #expect(got.shape == [150, 24])
        let c = Comparison(got.values, reference: want)
        #expect(c.relativeFrobenius < 2e-6, "\(path): \(c.relativeFrobenius)")
        #expect(c.nonFinite == 0)
        // A Float64 run of the same kernel matches the reference to rounding.
        let exact = try run(path, x, extra: extra, accumulate64: true)
        #expect(Comparison(exact.values, reference: want).relativeFrobenius < 1e-12)
    }

    /// The seed's online-softmax walk-through (values in the kernel): its published final
    /// output, and softmax(S) @ V computed here in Float64, agree with the kernel's.
    @Test func onlineSoftmaxWalkThrough() throws {
        let s: [Double] = [1, 4, 2, 5, 3]
        let v: [[Double]] = [[0.1, 0.2, 0.3], [1, 1, 1], [0.5, 0, 0.5], [2, 2, 0], [0.1, 0.8, 0.1]]
        let e = s.map { exp($0 - s.max()!) }, z = e.reduce(0, +)
        let want = (0..<3).map { p in (0..<5).reduce(0.0) { $0 + e[$1] / z * v[$1][p] } }
        let published = [1.53255989, 1.57817303, 0.26207384]
        for (w, p) in zip(want, published) { #expect(abs(w - p) < 5e-9) }
        let program = try program("Kernels/examples/online_softmax.kern")
        for accumulate64 in [true, false] {
            var numeric = NumericOptions()
            numeric.accumulate64 = accumulate64
            let r = try Runner.runNumeric(program, options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), numeric: numeric)
            let o = try #require(r.outputs["O"])
            #expect(o.shape == [1, 3])
            for (got, w) in zip(o.values, want) { #expect(abs(got - w) < (accumulate64 ? 1e-12 : 3e-7), "\(got) vs \(w)") }
        }
    }

    /// Batched grouped-query decode against a Float64 reference: query head h of sequence b
    /// attends to key/value head h / (H / KVH) of the same sequence. In one pass, and with the
    /// cache split three ways (two 8-key tiles, two, and one) and the partial results merged.
    @Test(arguments: [1, 3])
    func batchedDecodeMatchesFloat64(splits: Int) throws {
        let (B, H, KVH, ctx, d) = (2, 4, 2, 40, 16)
        var rng = SeededRandom(seed: 5)
        func make(_ n: Int) -> [Double] { (0..<n).map { _ in Double(Float(rng.normal())) } }
        let q = make(B * H * d), k = make(B * KVH * ctx * d), v = make(B * KVH * ctx * d)
        var want = [Double](repeating: 0, count: B * H * d)
        for b in 0..<B {
            for h in 0..<H {
                let g = h / (H / KVH)
                let s = (0..<ctx).map { j in (0..<d).reduce(0.0) { $0 + q[(b * H + h) * d + $1] * k[((b * KVH + g) * ctx + j) * d + $1] } / Double(d).squareRoot() }
                let e = s.map { exp($0 - s.max()!) }, z = e.reduce(0, +)
                for p in 0..<d { want[(b * H + h) * d + p] = (0..<ctx).reduce(0.0) { $0 + e[$1] / z * v[((b * KVH + g) * ctx + $1) * d + p] } }
            }
        }
        var numeric = NumericOptions()
        numeric.accumulate64 = true
        numeric.inputs = ["q": .init(shape: [B, H, d], values: q), "k": .init(shape: [B, KVH, ctx, d], values: k), "v": .init(shape: [B, KVH, ctx, d], values: v)]
        let params: [String: ParamValue] = ["B": .int(Int64(B)), "H": .int(Int64(H)), "KVH": .int(Int64(KVH)), "ctx": .int(Int64(ctx)), "d": .int(Int64(d)), "dt": .dtype("f32"), "Bc": .int(8), "splits": .int(Int64(splits))]
        let r = try Runner.runNumeric(try program("Kernels/stack/sdpa_decode.kern"), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: params), numeric: numeric)
        let o = try #require(r.outputs["o"])
        #expect(Comparison(o.values, reference: want).relativeFrobenius < 1e-12)
        #expect(r.summary.params["S"] == .int(Int64(splits)))
    }

    /// A values list must hold exactly as many values as the shape.
    @Test func tensorValuesMustFitTheShape() throws {
        let text = "kernel k {\n    param N = 3\n    input X[1, N] f32 = [1, 2]\n    x = load X\n}\n"
        var numeric = NumericOptions()
        numeric.accumulate64 = true
        do {
            _ = try Runner.runNumeric(try programFromText(text), options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!), numeric: numeric)
            Issue.record("accepted")
        } catch { #expect("\(error)".contains("'X' [1, 3] holds 3 elements; its values list has 2")) }
    }

    @Test func halfPrecisionStorageStaysClose() throws {
        let x = Self.inputs(N: 128, d: 32)
        let got = try run("Kernels/flash_attention.kern", x, dt: "f16")
        #expect(got.dtype == .f16)
        let c = Comparison(got.values, reference: Self.reference(x, causal: false))
        #expect(c.relativeFrobenius < 1e-2)
        #expect(c.relativeFrobenius > 1e-6)  // f16 storage really rounds
    }

    @Test func flashAgreesWithStandardAtF32() throws {
        let x = Self.inputs(N: 512, d: 64, seed: 5)
        let flash = try run("Kernels/flash_attention.kern", x)
        let standard = try run("Kernels/standard_attention.kern", x)
        #expect(Comparison(flash.values, reference: standard.values).relativeFrobenius < 1e-5)
    }

    @Test func wrongOnlineSoftmaxRescaleIsCaught() throws {
        let x = Self.inputs(N: 256, d: 32)
        let bad = try run("Tests/SimulatorTests/Fixtures/flash_missing_rescale.kern", x)
        let good = try run("Kernels/standard_attention.kern", x)
        #expect(Comparison(bad.values, reference: good.values).relativeFrobenius > 1e-2)
    }

    @Test func seededInputsAreSharedByName() throws {
        var numeric = NumericOptions()
        numeric.seed = 9
        let opts = RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(64), "dt": .dtype("f32")])
        let a = try Runner.runNumeric(try program("Kernels/flash_attention.kern"), options: opts, numeric: numeric).outputs["O"]!
        let b = try Runner.runNumeric(try program("Kernels/attention_2d.kern"), options: opts, numeric: numeric).outputs["O"]!
        #expect(Comparison(a.values, reference: b.values).relativeFrobenius < 1e-5)
        numeric.seed = 10
        let c = try Runner.runNumeric(try program("Kernels/attention_2d.kern"), options: opts, numeric: numeric).outputs["O"]!
        #expect(Comparison(c.values, reference: b.values).relativeFrobenius > 0.1)
    }

    @Test func numericCountsEqualShapeOnlyCounts() throws {
        let p = try program("Kernels/flash_attention.kern")
        let opts = RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: ["N": .int(700)])
        let shape = try Runner.run(p, options: opts)
        let numeric = try Runner.runNumeric(p, options: opts, numeric: NumericOptions()).summary
        #expect(shape == numeric)
    }
}
