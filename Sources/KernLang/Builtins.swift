/// Element types. Sizes are in bits so that sub-byte types (i4) are counted exactly.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f32, f16, bf16, f8, i8, i4, i32
    public var bits: Int {
        switch self {
        case .f32, .i32: 32
        case .f16, .bf16: 16
        case .f8, .i8: 8
        case .i4: 4
        }
    }
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f8 }
}

/// Read-only facts of the chosen GPU that parameter expressions may use as `gpu.NAME`.
public enum GPUFact: String, CaseIterable, Sendable {
    /// Shared memory (SRAM) one thread block may use, in bytes.
    case sram_bytes
    case sms
    case l2_bytes
    case hbm_bytes
    /// HBM bandwidth in bytes per time unit (cycles for seed presets, seconds otherwise).
    case hbm_bandwidth
    /// Peak matmul FLOPs per time unit.
    case matmul_flops
}

/// Built-in functions. Scalar functions work on parameters; tile functions make SRAM tiles.
public enum Builtin: String, CaseIterable, Sendable {
    // Elementwise math on scalars or tiles.
    case exp, log, sqrt, rsqrt, tanh, gelu, silu, abs, max, min
    // Scalars only.
    case ceil, floor, log2, round, cdiv, bytes
    // Tile constructors and tile ops.
    case zeros, full, cast, copy, transpose
    case rowmax, rowsum, rowmean, softmax
    case mask_causal, mask_window, alibi, topk, argtopk, top_p, sinusoidal
    // Mixture-of-experts routing with a fixed capacity per expert.
    case dispatch, dispatch_gate, expert_load

    /// Allowed argument counts.
    public var arity: ClosedRange<Int> {
        switch self {
        case .exp, .log, .sqrt, .rsqrt, .tanh, .gelu, .silu, .abs: 1...1
        case .max, .min: 2...2
        case .ceil, .floor, .log2, .round, .bytes: 1...1
        case .cdiv: 2...2
        case .zeros: 2...3
        case .full: 3...4
        case .cast: 2...2
        case .copy, .transpose, .rowmax, .rowsum, .rowmean, .softmax: 1...1
        case .mask_causal: 3...3
        case .mask_window, .alibi: 4...4
        case .topk, .argtopk, .top_p, .sinusoidal, .expert_load: 2...2
        case .dispatch: 3...3
        case .dispatch_gate: 4...4
        }
    }

    public var signature: String {
        switch self {
        case .zeros: "zeros(rows, cols[, dtype])"
        case .full: "full(rows, cols, value[, dtype])"
        case .cast: "cast(tile, dtype)"
        case .mask_causal: "mask_causal(scores, row_tile, col_tile)"
        case .mask_window: "mask_window(scores, row_tile, col_tile, window)"
        case .alibi: "alibi(scores, row_tile, col_tile, slope)"
        case .topk: "topk(tile, k)"
        case .argtopk: "argtopk(tile, k)"
        case .top_p: "top_p(probs, p)"
        case .sinusoidal: "sinusoidal(row_tile, cols)"
        case .dispatch: "dispatch(route, expert, capacity)"
        case .dispatch_gate: "dispatch_gate(route, gates, expert, capacity)"
        case .expert_load: "expert_load(route, experts)"
        case .max, .min: "\(rawValue)(a, b)"
        case .cdiv: "cdiv(a, b)"
        default: "\(rawValue)(x)"
        }
    }

    /// Functions that only make sense on parameters.
    public var scalarOnly: Bool { [.ceil, .floor, .log2, .round, .cdiv, .bytes].contains(self) }
    /// Functions whose result is always a tile.
    public var makesTile: Bool {
        [.zeros, .full, .cast, .copy, .transpose, .rowmax, .rowsum, .rowmean, .softmax,
         .mask_causal, .mask_window, .alibi, .topk, .argtopk, .top_p, .sinusoidal, .dispatch, .dispatch_gate, .expert_load].contains(self)
    }
}

extension Builtin {
    /// The name of argument `i` as the signature gives it ("capacity" for dispatch's third).
    public func argumentName(_ i: Int) -> String {
        let inner = signature.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
        let names = inner.replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return i < names.count ? names[i] : "argument \(i + 1)"
    }
}
