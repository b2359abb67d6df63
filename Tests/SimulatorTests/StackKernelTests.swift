import Foundation
import Testing
import KernLang
import Numerics
@testable import Simulator

/// Runs a kernel with values in Float64 on the given inputs (dt = f32), on a100-80gb.
func runF64(_ path: String, _ params: [String: ParamValue], _ inputs: [String: NPY.Array]) throws -> [String: OutputTensor] {
    var numeric = NumericOptions()
    numeric.inputs = inputs
    numeric.accumulate64 = true
    var p = params
    p["dt"] = .dtype("f32")
    return try Runner.runNumeric(try program(path), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: p), numeric: numeric).outputs
}

/// The transformer-stack kernels computed by gpusim against plain Float64 references here.
@Suite struct StackKernelTests {
    var rng = SeededRandom(seed: 21)

    mutating func array(_ n: Int) -> [Double] { (0..<n).map { _ in Double(Float(rng.normal())) } }


    static func matmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { for j in 0..<n { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    func close(_ got: [Double], _ want: [Double], _ tol: Double = 1e-12) -> Bool {
        Comparison(got, reference: want).relativeFrobenius < tol
    }

    @Test mutating func linear() throws {
        let (T, K, N) = (70, 50, 90)   // ragged against 64-wide tiles
        let x = array(T * K), w = array(K * N), b = array(N)
        let out = try runF64("Kernels/stack/linear.kern", ["T": .int(Int64(T)), "K": .int(Int64(K)), "N": .int(Int64(N)), "BK": .int(16)],
                          ["X": .init(shape: [T, K], values: x), "W": .init(shape: [K, N], values: w), "b": .init(shape: [N], values: b)])
        var want = Self.matmul(x, w, T, K, N)
        for i in 0..<T { for j in 0..<N { want[i * N + j] += b[j] } }
        #expect(close(out["Y"]!.values, want))
    }

    /// matmul runs its blocks in groups of G row tiles down each column of tiles; any G, a
    /// ragged last group and ragged tiles give X W (Float64 reference).
    @Test(arguments: [1, 3, 8])
    mutating func groupedMatmulComputesXWInItsOwnOrder(_ g: Int) throws {
        let (T, K, N) = (61, 40, 48)
        let x = array(T * K), w = array(K * N)
        let out = try runF64("Kernels/stack/matmul.kern", ["T": .int(Int64(T)), "K": .int(Int64(K)), "N": .int(Int64(N)),
                                                           "BM": .int(8), "BN": .int(16), "BK": .int(16), "G": .int(Int64(g))],
                             ["X": .init(shape: [T, K], values: x), "W": .init(shape: [K, N], values: w)])
        #expect(close(out["Y"]!.values, Self.matmul(x, w, T, K, N)))
    }

    /// The order is the L2's business: groups of one row tile are the row-major raster; taller
    /// groups keep more operand panels in L2 for the waves after them (the same requests, fewer
    /// misses), and never read less than X and W once.
    @Test func tallerGroupsMissL2Less() throws {
        let big: [String: ParamValue] = ["T": .int(8192), "K": .int(8192), "N": .int(8192), "BM": .int(128), "BN": .int(256)]
        var one = big; one["G"] = .int(1)
        var sixteen = big; sixteen["G"] = .int(16)
        let rowMajor = try run("Kernels/stack/matmul.kern", gpu: "h100-sxm", one)
        let grouped = try run("Kernels/stack/matmul.kern", gpu: "h100-sxm", sixteen)
        #expect(grouped.hbm.read_bytes < rowMajor.hbm.read_bytes * 6 / 10)
        #expect(grouped.hbm.read_bytes >= 2 * 8192 * 8192 * 2)
        #expect(grouped.l2!.read_bytes == rowMajor.l2!.read_bytes)
    }

    @Test mutating func rmsnormAndLayernorm() throws {
        let (T, d) = (45, 24)
        let x = array(T * d), g = array(d), b = array(d)
        let eps = 1e-5
        var rms = [Double](repeating: 0, count: T * d), ln = rms
        for i in 0..<T {
            let row = Array(x[(i * d)..<((i + 1) * d)])
            let ms = row.map { $0 * $0 }.reduce(0, +) / Double(d)
            let mu = row.reduce(0, +) / Double(d)
            let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(d)
            for j in 0..<d {
                rms[i * d + j] = row[j] / (ms + eps).squareRoot() * g[j]
                ln[i * d + j] = (row[j] - mu) / (v + eps).squareRoot() * g[j] + b[j]
            }
        }
        let p: [String: ParamValue] = ["T": .int(Int64(T)), "d": .int(Int64(d))]
        let r = try runF64("Kernels/stack/rmsnorm.kern", p, ["X": .init(shape: [T, d], values: x), "g": .init(shape: [d], values: g)])
        #expect(close(r["Y"]!.values, rms))
        let l = try runF64("Kernels/stack/layernorm.kern", p, ["X": .init(shape: [T, d], values: x), "g": .init(shape: [d], values: g), "b": .init(shape: [d], values: b)])
        #expect(close(l["Y"]!.values, ln))
    }

    @Test mutating func swigluAndGeluMLPs() throws {
        let (T, d, f) = (37, 16, 40)
        let x = array(T * d), w1 = array(d * f), w3 = array(d * f), w2 = array(f * d), b1 = array(f), b2 = array(d)
        let a = Self.matmul(x, w1, T, d, f), c = Self.matmul(x, w3, T, d, f)
        let hSwiglu = zip(a, c).map { $0 / (1 + exp(-$0)) * $1 }
        var aBias = a
        for i in 0..<T { for j in 0..<f { aBias[i * f + j] += b1[j] } }
        let hGelu = aBias.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        var yGelu = Self.matmul(hGelu, w2, T, f, d)
        for i in 0..<T { for j in 0..<d { yGelu[i * d + j] += b2[j] } }
        let p: [String: ParamValue] = ["T": .int(Int64(T)), "d": .int(Int64(d)), "dff": .int(Int64(f)), "BT": .int(16), "BF": .int(16)]
        let s = try runF64("Kernels/stack/swiglu_mlp.kern", p, ["X": .init(shape: [T, d], values: x), "W1": .init(shape: [d, f], values: w1),
                                                            "W3": .init(shape: [d, f], values: w3), "W2": .init(shape: [f, d], values: w2)])
        #expect(close(s["Y"]!.values, Self.matmul(hSwiglu, w2, T, f, d)))
        let gl = try runF64("Kernels/stack/gelu_mlp.kern", p, ["X": .init(shape: [T, d], values: x), "W1": .init(shape: [d, f], values: w1), "b1": .init(shape: [f], values: b1),
                                                           "W2": .init(shape: [f, d], values: w2), "b2": .init(shape: [d], values: b2)])
        #expect(close(gl["Y"]!.values, yGelu))
    }

    @Test mutating func embeddingAndResidual() throws {
        let (T, V, d) = (50, 300, 8)
        let table = array(V * d)
        let ids = (0..<T).map { Double(($0 * 37) % V) }
        let e = try runF64("Kernels/stack/embedding.kern", ["T": .int(Int64(T)), "vocab": .int(Int64(V)), "d": .int(Int64(d))],
                        ["ids": .init(shape: [T], values: ids), "E": .init(shape: [V, d], values: table)])
        let want = ids.flatMap { Array(table[(Int($0) * d)..<((Int($0) + 1) * d)]) }
        #expect(e["Y"]!.values == want)
        let x = array(T * d), r = array(T * d)
        let y = try runF64("Kernels/stack/residual_add.kern", ["T": .int(Int64(T)), "d": .int(Int64(d))],
                        ["X": .init(shape: [T, d], values: x), "R": .init(shape: [T, d], values: r)])
        #expect(y["Y"]!.values == zip(x, r).map(+))
        // The gather reads only the rows it uses.
        let s = try Runner.run(try program("Kernels/stack/embedding.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: ["T": .int(64), "d": .int(8), "vocab": .int(32000)]))
        let usedRows: Int64 = 64 * 8 * 2
        #expect(s.tensors["E"]?.read_bytes == usedRows)
    }

    @Test mutating func modelStackMatchesAComposedReference() throws {
        let (T, d, f, V, L) = (20, 16, 24, 1100, 2)
        let ids = (0..<T).map { Double(($0 * 53) % V) }
        let E = array(V * d), g = array(d), w1 = array(d * f), w3 = array(d * f), w2 = array(f * d), wout = array(d * V), bout = array(V)
        func rms(_ x: [Double]) -> [Double] {
            var y = x
            for i in 0..<T {
                let ms = (0..<d).map { x[i * d + $0] * x[i * d + $0] }.reduce(0, +) / Double(d)
                for j in 0..<d { y[i * d + j] = x[i * d + j] / (ms + 1e-5).squareRoot() * g[j] }
            }
            return y
        }
        var h = ids.flatMap { Array(E[(Int($0) * d)..<((Int($0) + 1) * d)]) }
        for _ in 0..<L {
            let x = rms(h)
            let a = Self.matmul(x, w1, T, d, f), c = Self.matmul(x, w3, T, d, f)
            let m = Self.matmul(zip(a, c).map { $0 / (1 + exp(-$0)) * $1 }, w2, T, f, d)
            h = zip(h, m).map(+)
        }
        var logits = Self.matmul(rms(h), wout, T, d, V)
        for i in 0..<T { for j in 0..<V { logits[i * V + j] += bout[j] } }
        let out = try runF64("Kernels/models/tiny_mlp_stack.kern",
                          ["T": .int(Int64(T)), "d": .int(Int64(d)), "dff": .int(Int64(f)), "vocab": .int(Int64(V)), "L": .int(Int64(L))],
                          ["ids": .init(shape: [T], values: ids), "E": .init(shape: [V, d], values: E), "g": .init(shape: [d], values: g),
                           "W1": .init(shape: [d, f], values: w1), "W3": .init(shape: [d, f], values: w3), "W2": .init(shape: [f, d], values: w2),
                           "Wout": .init(shape: [d, V], values: wout), "bout": .init(shape: [V], values: bout)])
        #expect(close(out["logits"]!.values, logits))
    }

    @Test func modelStackComposes() throws {
        let s = try Runner.run(try program("Kernels/models/tiny_mlp_stack.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!))
        #expect(s.kernels["swiglu_mlp"]?.launches == 4)
        #expect(s.kernels["rmsnorm"]?.launches == 5)
        #expect(s.counts.launches == 15)
        #expect(!s.sram.overflow)
        let numeric = try Runner.runNumeric(try program("Kernels/models/tiny_mlp_stack.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: ["L": .int(2)]), numeric: NumericOptions())
        let finite = numeric.outputs["logits"]!.values.allSatisfy { $0.isFinite }
        #expect(finite)
    }
}

/// Multi-head (and grouped-query) attention, RoPE and decode attention against Float64.
@Suite struct AttentionStackTests {
    var rng = SeededRandom(seed: 33)
    mutating func array(_ n: Int) -> [Double] { (0..<n).map { _ in Double(Float(rng.normal())) } }


    /// Causal (or, for decode, full) attention of head h over keys [0, n) of kv head h / group;
    /// with a window, row i (at position i + causalOffset) sees only the last `window` keys.
    static func attend(_ q: [Double], _ k: [Double], _ v: [Double], rows: Int, keys: Int, H: Int, KVH: Int, hd: Int, causalOffset: Int?, window: Int? = nil) -> [Double] {
        var out = [Double](repeating: 0, count: rows * H * hd)
        let group = H / KVH
        for h in 0..<H {
            let g = h / group
            for i in 0..<rows {
                let visible = causalOffset.map { min(keys, i + $0 + 1) } ?? keys
                let first = window.map { max(0, visible - $0) } ?? 0
                var s = [Double](repeating: 0, count: visible - first)
                for j in first..<visible {
                    var dot = 0.0
                    for p in 0..<hd { dot += q[i * H * hd + h * hd + p] * k[j * KVH * hd + g * hd + p] }
                    s[j - first] = dot / Double(hd).squareRoot()
                }
                let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                for p in 0..<hd {
                    var acc = 0.0
                    for j in first..<visible { acc += e[j - first] / z * v[j * KVH * hd + g * hd + p] }
                    out[i * H * hd + h * hd + p] = acc
                }
            }
        }
        return out
    }

    /// A generation step over a cache: kv_append writes the step's keys and values behind the P
    /// cached ones, then cached_attention attends each new row to every position up to its own
    /// (or its window). Reference: `attend` on each sequence's whole cache, rows offset by P.
    @Test(arguments: [(4, 0), (2, 0), (1, 0), (2, 7)])
    mutating func cachedAttentionContinuesTheSequences(_ kvh: Int, _ window: Int) throws {
        let (B, T, P, ctx, H, hd) = (2, 11, 13, 30, 4, 8), w = kvh * hd
        let q = array(B * T * H * hd), knew = array(B * T * w), vnew = array(B * T * w)
        var kc = array(B * ctx * w), vc = array(B * ctx * w)
        let sizes: [String: ParamValue] = ["B": .int(Int64(B)), "T": .int(Int64(T)), "P": .int(Int64(P)), "ctx": .int(Int64(ctx))]
        let appended = try runF64("Kernels/stack/kv_append.kern", sizes.merging(["width": .int(Int64(w)), "BT": .int(4), "BW": .int(8)]) { a, _ in a },
                                  ["K": .init(shape: [B * T, w], values: knew), "V": .init(shape: [B * T, w], values: vnew),
                                   "Kc": .init(shape: [B, ctx, w], values: kc), "Vc": .init(shape: [B, ctx, w], values: vc)])
        for b in 0..<B { for t in 0..<T { for c in 0..<w {
            kc[(b * ctx + P + t) * w + c] = knew[(b * T + t) * w + c]
            vc[(b * ctx + P + t) * w + c] = vnew[(b * T + t) * w + c]
        } } }
        #expect(appended["Kc"]!.values == kc && appended["Vc"]!.values == vc)
        let out = try runF64("Kernels/stack/cached_attention.kern",
                             sizes.merging(["H": .int(Int64(H)), "KVH": .int(Int64(kvh)), "hd": .int(Int64(hd)), "window": .int(Int64(window)), "Br": .int(4), "Bc": .int(8)]) { a, _ in a },
                             ["Q": .init(shape: [B * T, H * hd], values: q), "Kc": .init(shape: [B, ctx, w], values: kc), "Vc": .init(shape: [B, ctx, w], values: vc)])
        var want: [Double] = []
        for b in 0..<B {
            want += Self.attend(Array(q[(b * T * H * hd)..<((b + 1) * T * H * hd)]), Array(kc[(b * ctx * w)..<((b + 1) * ctx * w)]),
                                Array(vc[(b * ctx * w)..<((b + 1) * ctx * w)]), rows: T, keys: P + T, H: H, KVH: kvh, hd: hd,
                                causalOffset: P, window: window == 0 ? nil : window)
        }
        #expect(Comparison(out["O"]!.values, reference: want).relativeFrobenius < 1e-12)
    }

    @Test(arguments: [4, 2, 1])
    mutating func groupedQueryAttention(_ kvh: Int) throws {
        let (T, H, hd) = (45, 4, 8)
        let q = array(T * H * hd), k = array(T * kvh * hd), v = array(T * kvh * hd)
        let out = try runF64("Kernels/stack/mha_causal.kern", ["T": .int(Int64(T)), "H": .int(Int64(H)), "KVH": .int(Int64(kvh)), "hd": .int(Int64(hd)), "Br": .int(16), "Bc": .int(8)],
                          ["Q": .init(shape: [T, H * hd], values: q), "K": .init(shape: [T, kvh * hd], values: k), "V": .init(shape: [T, kvh * hd], values: v)])
        let want = Self.attend(q, k, v, rows: T, keys: T, H: H, KVH: kvh, hd: hd, causalOffset: 0)
        #expect(Comparison(out["O"]!.values, reference: want).relativeFrobenius < 1e-12)
    }

    @Test mutating func decodeAttentionReadsTheCache() throws {
        let (ctx, P, H, kvh, hd) = (40, 23, 4, 2, 8)
        let q = array(H * hd), kc = array(ctx * kvh * hd), vc = array(ctx * kvh * hd)
        let out = try runF64("Kernels/stack/decode_attention.kern", ["ctx": .int(Int64(ctx)), "P": .int(Int64(P)), "H": .int(Int64(H)), "KVH": .int(Int64(kvh)), "hd": .int(Int64(hd)), "Bc": .int(8)],
                          ["q": .init(shape: [H, hd], values: q), "Kc": .init(shape: [ctx, kvh * hd], values: kc), "Vc": .init(shape: [ctx, kvh * hd], values: vc)])
        let want = Self.attend(q, kc, vc, rows: 1, keys: P, H: H, KVH: kvh, hd: hd, causalOffset: nil)
        #expect(Comparison(out["o"]!.values, reference: want).relativeFrobenius < 1e-12)
    }

    @Test mutating func ropeRotatesHalves() throws {
        let (T, H, hd) = (10, 2, 8)
        let x = array(T * H * hd), c = array(T * hd / 2), s = array(T * hd / 2)
        let out = try runF64("Kernels/stack/rope.kern", ["T": .int(Int64(T)), "H": .int(Int64(H)), "hd": .int(Int64(hd)), "BT": .int(4)],
                          ["X": .init(shape: [T, H * hd], values: x), "C": .init(shape: [T, hd / 2], values: c), "S": .init(shape: [T, hd / 2], values: s)])
        var want = x
        for t in 0..<T { for h in 0..<H { for p in 0..<(hd / 2) {
            let x1 = x[t * H * hd + h * hd + p], x2 = x[t * H * hd + h * hd + hd / 2 + p]
            let cs = c[t * hd / 2 + p], sn = s[t * hd / 2 + p]
            want[t * H * hd + h * hd + p] = x1 * cs - x2 * sn
            want[t * H * hd + h * hd + hd / 2 + p] = x2 * cs + x1 * sn
        } } }
        #expect(Comparison(out["Y"]!.values, reference: want).relativeFrobenius < 1e-12)
    }
}

/// Quantised, LoRA, sliding-window and cross-attention kernels against Float64 references.
@Suite struct MoreStackTests {
    var rng = SeededRandom(seed: 44)
    mutating func array(_ n: Int) -> [Double] { (0..<n).map { _ in Double(Float(rng.normal())) } }


    @Test(arguments: ["i8", "i4"])
    mutating func quantisedMatmulDequantises(_ wdt: String) throws {
        let (T, K, N) = (3, 40, 50)
        let x = array(T * K), s = array(N)
        let limit = wdt == "i8" ? 127.0 : 7.0
        let wq = (0..<(K * N)).map { _ in min(limit, max(-limit - 1, (rng.normal() * 3).rounded())) }
        let out = try runF64("Kernels/stack/quant_matmul.kern", ["T": .int(Int64(T)), "K": .int(Int64(K)), "N": .int(Int64(N)), "wdt": .dtype(wdt), "BN": .int(16), "BK": .int(16)],
                          ["X": .init(shape: [T, K], values: x), "Wq": .init(shape: [K, N], values: wq), "scales": .init(shape: [N], values: s)])
        var w = wq
        for k in 0..<K { for j in 0..<N { w[k * N + j] *= s[j] } }
        #expect(Comparison(out["Y"]!.values, reference: StackKernelTests.matmul(x, w, T, K, N)).relativeFrobenius < 1e-12)
        // Sub-byte weights move at half a byte each.
        let traffic = try Runner.run(try program("Kernels/stack/quant_matmul.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: ["wdt": .dtype(wdt)])).tensors["Wq"]!.read_bytes
        let expected: Int64 = 4096 * 4096 / (wdt == "i8" ? 1 : 2)
        #expect(traffic == expected)
    }

    @Test mutating func loraAddsTheLowRankUpdate() throws {
        let (T, K, N, r) = (20, 30, 26, 4)
        let x = array(T * K), w = array(K * N), a = array(K * r), b = array(r * N)
        let out = try runF64("Kernels/stack/lora_linear.kern", ["T": .int(Int64(T)), "K": .int(Int64(K)), "N": .int(Int64(N)), "r": .int(Int64(r)), "alpha": .int(8), "BM": .int(8), "BN": .int(8), "BK": .int(8)],
                          ["X": .init(shape: [T, K], values: x), "W": .init(shape: [K, N], values: w), "A": .init(shape: [K, r], values: a), "B": .init(shape: [r, N], values: b)])
        let base = StackKernelTests.matmul(x, w, T, K, N)
        let low = StackKernelTests.matmul(StackKernelTests.matmul(x, a, T, K, r), b, T, r, N)
        #expect(Comparison(out["Y"]!.values, reference: zip(base, low).map { $0 + 2 * $1 }).relativeFrobenius < 1e-12)
    }

    @Test mutating func sinusoidalEncodingMatchesTheTransformerFormula() throws {
        let (T, d) = (37, 10)   // ragged against 8-row tiles, an even width
        let x = array(T * d)
        let out = try runF64("Kernels/stack/sinusoidal_encoding.kern", ["T": .int(Int64(T)), "d": .int(Int64(d)), "BT": .int(8)],
                             ["X": .init(shape: [T, d], values: x)])
        var want = x
        for pos in 0..<T {
            for i in 0..<(d / 2) {
                let angle = Double(pos) / pow(10000, Double(2 * i) / Double(d))
                want[pos * d + 2 * i] += sin(angle)
                want[pos * d + 2 * i + 1] += cos(angle)
            }
        }
        #expect(Comparison(out["Y"]!.values, reference: want).relativeFrobenius < 1e-14)
    }

    /// Two sequences, the vocabulary whole (S = 1) or in two shards as a tensor-parallel LM head
    /// leaves it ([S, B, vocab / S], token s vocab / S + j in column j of shard s). Reference:
    /// softmax, sort and the nucleus rule in Float64 on each sequence's whole row.
    @Test(arguments: [1, 2])
    mutating func samplingKeepsTheTopKAndTheNucleus(_ shards: Int) throws {
        let (B, vocab, k, temperature, p) = (2, 300, 12, 0.25, 0.8)
        let rows = (0..<B).map { _ in array(vocab) }   // Float-representable, as the f32 input keeps them
        let w = vocab / shards
        var sharded: [Double] = []
        for g in 0..<shards { for b in 0..<B { sharded += rows[b][(g * w)..<((g + 1) * w)] } }
        let out = try runF64("Kernels/stack/sampling.kern", ["B": .int(Int64(B)), "S": .int(Int64(shards)), "vocab": .int(Int64(vocab)), "k": .int(Int64(k)),
                                                             "temperature": .float(temperature), "p": .float(p), "BV": .int(64)],
                             ["logits": .init(shape: [shards, B, w], values: sharded)])
        for (b, logits) in rows.enumerated() {
            let z = logits.map { $0 / temperature }, m = z.max()!, e = z.map { exp($0 - m) }, total = e.reduce(0, +)
            let probs = e.map { $0 / total }
            let order = (0..<vocab).sorted { probs[$0] > probs[$1] }
            let top = Array(order.prefix(k))
            #expect(Array(out["top_ids"]!.values[(b * k)..<((b + 1) * k)]) == top.map(Double.init))
            // The nucleus: the most likely candidates until their mass reaches p of the candidates', renormalised.
            let candidates = top.map { probs[$0] }, mass = candidates.reduce(0, +)
            var kept = 0.0, n = 0
            while n < k && (n == 0 || kept < p * mass) { kept += candidates[n]; n += 1 }
            let want = (0..<k).map { $0 < n ? candidates[$0] / kept : 0 }
            #expect(n > 1 && n < k)
            #expect(Comparison(Array(out["top_probs"]!.values[(b * k)..<((b + 1) * k)]), reference: want).relativeFrobenius < 1e-12)
        }
    }

    /// GELU experts (gated 0) and SwiGLU experts (gated 1, Mixtral's: W1 holds [up | gate]).
    @Test(arguments: [0, 1])
    mutating func mixtureOfExpertsRoutesWithinCapacity(gated: Int) throws {
        let (T, d, dff, E, k) = (40, 8, 12, 4, 2)
        let C = Int((Double(T * k) * 1.0 / Double(E)).rounded(.up))   // capacity_factor 1: some choices are dropped
        let w1Cols = (1 + gated) * dff
        let x = array(T * d), wg = array(d * E), w1 = array(E * d * w1Cols), w2 = array(E * dff * d)
        let out = try runF64("Kernels/stack/moe.kern", ["T": .int(Int64(T)), "d": .int(Int64(d)), "dff": .int(Int64(dff)), "E": .int(Int64(E)),
                                                        "k": .int(Int64(k)), "capacity_factor": .float(1), "BT": .int(16), "BM": .int(16), "BN": .int(8), "BK": .int(8),
                                                        "gated": .int(Int64(gated))],
                             ["X": .init(shape: [T, d], values: x), "Wg": .init(shape: [d, E], values: wg),
                              "W1": .init(shape: [E, d, w1Cols], values: w1), "W2": .init(shape: [E, dff, d], values: w2)])
        // Router: softmax over experts, the k best (ties: lower index), renormalised weights.
        var route: [[Int]] = [], gates: [[Double]] = []
        for t in 0..<T {
            let logits = (0..<E).map { e in (0..<d).reduce(0.0) { $0 + x[t * d + $1] * wg[$1 * E + e] } }
            let m = logits.max()!, ex = logits.map { exp($0 - m) }, z = ex.reduce(0, +)
            let p = ex.map { $0 / z }
            let best = (0..<E).sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(k)
            let total = best.reduce(0.0) { $0 + p[$1] }
            route.append(Array(best)); gates.append(best.map { p[$0] / total })
        }
        var want = [Double](repeating: 0, count: T * d), load = [Double](repeating: 0, count: E)
        var dropped = 0
        for e in 0..<E {
            var used = 0
            for t in 0..<T {
                for c in 0..<k where route[t][c] == e {
                    load[e] += 1
                    guard used < C else { dropped += 1; continue }
                    used += 1
                    var h = [Double](repeating: 0, count: dff)
                    func column(_ c: Int) -> Double { (0..<d).reduce(0.0) { $0 + x[t * d + $1] * w1[e * d * w1Cols + $1 * w1Cols + c] } }
                    for j in 0..<dff {
                        let a = column(j)
                        h[j] = gated == 1 ? a / (1 + exp(-a)) * column(dff + j) : a * (1 + erf(a / 2.0.squareRoot())) / 2
                    }
                    for j in 0..<d { want[t * d + j] += gates[t][c] * (0..<dff).reduce(0.0) { $0 + h[$1] * w2[e * dff * d + $1 * d + j] } }
                }
            }
        }
        #expect(dropped > 0)
        #expect(out["tokens_per_expert"]!.values == load)
        #expect(Comparison(out["Y"]!.values, reference: want).relativeFrobenius < 1e-12)
    }

    @Test func expertsOnlyWorkOnTheirTokens() throws {
        // Expert FLOPs scale with k * capacity_factor / E, not with E: a dense layer of all E
        // experts would do 2 x 2 T d dff E.
        let s = try Runner.run(try program("Kernels/stack/moe.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!))
        let (T, d, dff, E, C): (Int64, Int64, Int64, Int64, Int64) = (256, 128, 256, 8, 80)
        let expertFlops: Int64 = 2 * 2 * E * C * d * dff
        let routerFlops: Int64 = 2 * T * d * E
        #expect(s.flops.matmul == expertFlops + routerFlops)
        #expect(s.flops.matmul * 3 < 2 * 2 * T * d * dff * E)
    }

    @Test mutating func alibiBiasesByDistance() throws {
        let (T, H, hd) = (30, 2, 8)
        let q = array(T * H * hd), k = array(T * H * hd), v = array(T * H * hd)
        let out = try runF64("Kernels/stack/alibi_attention.kern", ["T": .int(Int64(T)), "H": .int(Int64(H)), "hd": .int(Int64(hd)), "Br": .int(8), "Bc": .int(8)],
                             ["Q": .init(shape: [T, H * hd], values: q), "K": .init(shape: [T, H * hd], values: k), "V": .init(shape: [T, H * hd], values: v)])
        var want = [Double](repeating: 0, count: T * H * hd)
        for h in 0..<H {
            let slope = pow(2, -8 * Double(h + 1) / Double(H))
            for i in 0..<T {
                var s: [Double] = []
                for j in 0...i {
                    var dot = 0.0
                    for p in 0..<hd { dot += q[i * H * hd + h * hd + p] * k[j * H * hd + h * hd + p] }
                    s.append(dot / Double(hd).squareRoot() - slope * Double(i - j))
                }
                let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                for p in 0..<hd {
                    var acc = 0.0
                    for j in 0...i { acc += v[j * H * hd + h * hd + p] * e[j] / z }
                    want[i * H * hd + h * hd + p] = acc
                }
            }
        }
        #expect(Comparison(out["O"]!.values, reference: want).relativeFrobenius < 1e-12)
    }

    @Test mutating func slidingWindowAndCrossAttention() throws {
        let (N, d, window) = (50, 8, 12)
        let q = array(N * d), k = array(N * d), v = array(N * d)
        let sw = try runF64("Kernels/stack/sliding_window_attention.kern", ["N": .int(Int64(N)), "d": .int(Int64(d)), "window": .int(Int64(window)), "Br": .int(8), "Bc": .int(8)],
                         ["Q": .init(shape: [N, d], values: q), "K": .init(shape: [N, d], values: k), "V": .init(shape: [N, d], values: v)])
        var want = [Double](repeating: 0, count: N * d)
        for i in 0..<N {
            let keys = Array(max(0, i - window + 1)...i)
            let s = keys.map { j in (0..<d).map { q[i * d + $0] * k[j * d + $0] }.reduce(0, +) / Double(d).squareRoot() }
            let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
            for p in 0..<d { want[i * d + p] = zip(keys, e).map { v[$0 * d + p] * $1 / z }.reduce(0, +) }
        }
        #expect(Comparison(sw["O"]!.values, reference: want).relativeFrobenius < 1e-12)
        let (Tq, Tk, H) = (9, 21, 2)
        let cq = array(Tq * H * d), ck = array(Tk * H * d), cv = array(Tk * H * d)
        let cross = try runF64("Kernels/stack/cross_attention.kern", ["Tq": .int(Int64(Tq)), "Tk": .int(Int64(Tk)), "H": .int(Int64(H)), "hd": .int(Int64(d)), "Br": .int(4), "Bc": .int(8)],
                            ["Q": .init(shape: [Tq, H * d], values: cq), "K": .init(shape: [Tk, H * d], values: ck), "V": .init(shape: [Tk, H * d], values: cv)])
        let ref = AttentionStackTests.attend(cq, ck, cv, rows: Tq, keys: Tk, H: H, KVH: H, hd: d, causalOffset: nil)
        #expect(Comparison(cross["O"]!.values, reference: ref).relativeFrobenius < 1e-12)
        // The window bounds the work: traffic grows with N x window, not N^2.
        let small = try Runner.run(try program("Kernels/stack/sliding_window_attention.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: ["N": .int(4096)]))
        let big = try Runner.run(try program("Kernels/stack/sliding_window_attention.kern"), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: ["N": .int(8192)]))
        #expect(abs(Double(big.hbm.total_bytes) / Double(small.hbm.total_bytes) - 2) < 0.05)
    }

    /// Softmax attention and its gradients in Float64, per head of [BH, N, d] tensors:
    /// O = P V with P = softmax(Q K^T scale) (causal: keys up to the query), LSE the log of
    /// each row's softmax denominator, and dV = P^T dO, dS = P * (dO V^T - rowsum(dO * O)),
    /// dQ = dS K scale, dK = dS^T Q scale.
    static func attentionGradients(q: [Double], k: [Double], v: [Double], dO: [Double], BH: Int, N: Int, d: Int, causal: Bool)
        -> (o: [Double], lse: [Double], p: [Double], dQ: [Double], dK: [Double], dV: [Double]) {
        let scale = 1 / Double(d).squareRoot()
        var o = [Double](repeating: 0, count: BH * N * d), lse = [Double](repeating: 0, count: BH * N)
        var p = [Double](repeating: 0, count: BH * N * N)
        var dQ = o, dK = o, dV = o
        for h in 0..<BH {
            func at(_ x: [Double], _ r: Int, _ c: Int) -> Double { x[(h * N + r) * d + c] }
            for i in 0..<N {
                let keys = causal ? i + 1 : N
                let s = (0..<keys).map { j in (0..<d).reduce(0.0) { $0 + at(q, i, $1) * at(k, j, $1) } * scale }
                let m = s.max()!, z = s.reduce(0.0) { $0 + exp($1 - m) }
                lse[h * N + i] = m + log(z)
                for j in 0..<keys { p[(h * N + i) * N + j] = exp(s[j] - m) / z }
                for c in 0..<d { o[(h * N + i) * d + c] = (0..<keys).reduce(0.0) { $0 + p[(h * N + i) * N + $1] * at(v, $1, c) } }
            }
            for i in 0..<N {
                let D = (0..<d).reduce(0.0) { $0 + at(dO, i, $1) * o[(h * N + i) * d + $1] }
                for j in 0..<N where p[(h * N + i) * N + j] != 0 {
                    let pij = p[(h * N + i) * N + j]
                    let dS = pij * ((0..<d).reduce(0.0) { $0 + at(dO, i, $1) * at(v, j, $1) } - D)
                    for c in 0..<d {
                        dV[(h * N + j) * d + c] += pij * at(dO, i, c)
                        dQ[(h * N + i) * d + c] += dS * at(k, j, c) * scale
                        dK[(h * N + j) * d + c] += dS * at(q, i, c) * scale
                    }
                }
            }
        }
        return (o, lse, p, dQ, dK, dV)
    }

    /// FlashAttention-2's backward against the Float64 gradients. N = 21 with 8- and 4-row
    /// tiles leaves ragged last tiles; causal masks above the diagonal. LSE, D and the dQ
    /// accumulator live in f32 tensors (as in FlashAttention-2), so agreement is to f32
    /// rounding (a wrong term would be off by far more).
    @Test(arguments: [0, 1])
    mutating func flashBackwardGivesTheGradients(causal: Int) throws {
        let (BH, N, d) = (2, 21, 8)
        let q = array(BH * N * d), k = array(BH * N * d), v = array(BH * N * d), dO = array(BH * N * d)
        let want = Self.attentionGradients(q: q, k: k, v: v, dO: dO, BH: BH, N: N, d: d, causal: causal == 1)
        let shape = [BH, N, d]
        let out = try runF64("Kernels/stack/sdpa_flash_backward.kern",
                             ["BH": .int(Int64(BH)), "N": .int(Int64(N)), "d": .int(Int64(d)), "Br": .int(8), "Bc": .int(4), "causal": .int(Int64(causal))],
                             ["Q": .init(shape: shape, values: q), "K": .init(shape: shape, values: k), "V": .init(shape: shape, values: v),
                              "O": .init(shape: shape, values: want.o), "dO": .init(shape: shape, values: dO), "LSE": .init(shape: [BH, N, 1], values: want.lse)])
        #expect(Comparison(out["dQ"]!.values, reference: want.dQ).relativeFrobenius < 1e-6)
        #expect(Comparison(out["dK"]!.values, reference: want.dK).relativeFrobenius < 1e-6)
        #expect(Comparison(out["dV"]!.values, reference: want.dV).relativeFrobenius < 1e-6)
    }

    /// Eager attention's forward launches (five with the causal mask's `masked_fill`) against the
    /// Float64 softmax attention. The mask input holds PyTorch's bool mask (1 above the diagonal).
    @Test(arguments: [0, 1])
    mutating func eagerForwardGivesTheAttention(causal: Int) throws {
        let (BH, N, d) = (2, 21, 8)
        let q = array(BH * N * d), k = array(BH * N * d), v = array(BH * N * d)
        let want = Self.attentionGradients(q: q, k: k, v: v, dO: q, BH: BH, N: N, d: d, causal: causal == 1)
        let shape = [BH, N, d]
        let mask = (0..<N * N).map { Double($0 % N > $0 / N ? 1 : 0) }
        let out = try runF64("Kernels/stack/eager_attention.kern",
                             ["BH": .int(Int64(BH)), "N": .int(Int64(N)), "d": .int(Int64(d)), "T": .int(8), "R": .int(4), "causal": .int(Int64(causal))],
                             ["Q": .init(shape: shape, values: q), "K": .init(shape: shape, values: k), "V": .init(shape: shape, values: v),
                              "mask": .init(shape: [N, N], values: mask)])
        #expect(Comparison(out["O"]!.values, reference: want.o).relativeFrobenius < 1e-12)
    }

    /// The causal mask is one more launch over the scores: the SMs read S (2 bytes a score) and
    /// each head's rows of the bool mask (1 byte a score) and write S back, one FLOP a score.
    @Test func eagerCausalMaskIsAFifthRoundTrip() throws {
        let (BH, N): (Int64, Int64) = (4, 512)
        let gpu = GPUModel.preset(named: "h100-sxm")!
        func run(_ causal: Int64) throws -> RunSummary {
            try Runner.run(try program("Kernels/stack/eager_attention.kern"), options: RunOptions(gpu: gpu, overrides: ["BH": .int(BH), "N": .int(N), "causal": .int(causal)]))
        }
        let plain = try run(0), causal = try run(1)
        let scores = BH * N * N
        #expect(causal.phases.count == plain.phases.count + 1)
        #expect(causal.requestedReadBytes - plain.requestedReadBytes == scores * 2 + scores * 1)
        #expect(causal.requestedWriteBytes - plain.requestedWriteBytes == scores * 2)
        #expect(causal.flops.total - plain.flops.total == scores)
    }

    /// Eager attention's six backward launches against the same Float64 gradients, from the
    /// forward's P. P, dP and dS pass through f32 tensors in HBM, so agreement is to f32
    /// rounding.
    @Test mutating func eagerBackwardGivesTheGradients() throws {
        let (BH, N, d) = (2, 21, 8)
        let q = array(BH * N * d), k = array(BH * N * d), v = array(BH * N * d), dO = array(BH * N * d)
        let want = Self.attentionGradients(q: q, k: k, v: v, dO: dO, BH: BH, N: N, d: d, causal: false)
        let shape = [BH, N, d]
        let out = try runF64("Kernels/stack/eager_attention_backward.kern",
                             ["BH": .int(Int64(BH)), "N": .int(Int64(N)), "d": .int(Int64(d)), "T": .int(8), "R": .int(4)],
                             ["Q": .init(shape: shape, values: q), "K": .init(shape: shape, values: k), "V": .init(shape: shape, values: v),
                              "P": .init(shape: [BH, N, N], values: want.p), "dO": .init(shape: shape, values: dO)])
        #expect(Comparison(out["dQ"]!.values, reference: want.dQ).relativeFrobenius < 1e-6)
        #expect(Comparison(out["dK"]!.values, reference: want.dK).relativeFrobenius < 1e-6)
        #expect(Comparison(out["dV"]!.values, reference: want.dV).relativeFrobenius < 1e-6)
    }
}
