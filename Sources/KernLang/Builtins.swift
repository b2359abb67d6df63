import Foundation

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
    /// Whether tensor cores multiply operands of this type (f32 products run on CUDA cores).
    public var isTensorCoreInput: Bool { self == .f16 || self == .bf16 || self == .f8 || self == .i8 || self == .i4 }
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

/// A function a kernel can call, by name: the built-ins below, or an op a program registered
/// (`Builtin.register`, then a row of the op table and a numeric kernel: see
/// docs/architecture.md). Scalar functions work on parameters; tile functions make SRAM tiles.
public struct Builtin: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String
    init(_ name: String) { rawValue = name }
    /// The function of that name, when one is declared.
    public init?(rawValue: String) {
        guard Self.declaration(of: rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }
    public var description: String { rawValue }

    /// What the checker needs of a function: how many arguments, how to call it, and what it
    /// works on.
    public struct Declaration: Sendable {
        public let arity: ClosedRange<Int>
        public let signature: String
        /// Only on parameters (never on tiles).
        public let scalarOnly: Bool
        /// Its result is always a tile.
        public let makesTile: Bool
        /// Argument positions that take a tile range (a loop variable of tiles()).
        public let rangeArguments: Set<Int>
        public init(arity: ClosedRange<Int>, signature: String, scalarOnly: Bool = false, makesTile: Bool = false, rangeArguments: Set<Int> = []) {
            self.arity = arity; self.signature = signature; self.scalarOnly = scalarOnly; self.makesTile = makesTile; self.rangeArguments = rangeArguments
        }
    }

    // Elementwise math on scalars or tiles.
    public static let exp = Builtin("exp"), log = Builtin("log"), sqrt = Builtin("sqrt"), rsqrt = Builtin("rsqrt")
    public static let tanh = Builtin("tanh"), gelu = Builtin("gelu"), silu = Builtin("silu"), abs = Builtin("abs")
    public static let max = Builtin("max"), min = Builtin("min")
    // Scalars only.
    public static let ceil = Builtin("ceil"), floor = Builtin("floor"), log2 = Builtin("log2"), round = Builtin("round")
    public static let cdiv = Builtin("cdiv"), bytes = Builtin("bytes")
    // Tile constructors and tile ops.
    public static let zeros = Builtin("zeros"), full = Builtin("full"), cast = Builtin("cast"), copy = Builtin("copy")
    public static let transpose = Builtin("transpose"), rowmax = Builtin("rowmax"), rowsum = Builtin("rowsum")
    public static let rowmean = Builtin("rowmean"), softmax = Builtin("softmax")
    public static let mask_causal = Builtin("mask_causal"), mask_window = Builtin("mask_window"), alibi = Builtin("alibi")
    public static let topk = Builtin("topk"), argtopk = Builtin("argtopk"), top_p = Builtin("top_p"), sinusoidal = Builtin("sinusoidal")
    // Mixture-of-experts routing with a fixed capacity per expert.
    public static let dispatch = Builtin("dispatch"), dispatch_gate = Builtin("dispatch_gate"), expert_load = Builtin("expert_load")

    static func math(_ n: Int) -> Declaration { Declaration(arity: n...n, signature: "") }
    static func tileOp(_ arity: ClosedRange<Int>, _ signature: String, ranges: Set<Int> = []) -> Declaration {
        Declaration(arity: arity, signature: signature, makesTile: true, rangeArguments: ranges)
    }
    static func scalar(_ n: Int, _ signature: String) -> Declaration { Declaration(arity: n...n, signature: signature, scalarOnly: true) }

    /// The built-in functions, in the order the language reference lists them.
    static let builtIn: [(Builtin, Declaration)] = [
        (.exp, math(1)), (.log, math(1)), (.sqrt, math(1)), (.rsqrt, math(1)), (.tanh, math(1)), (.gelu, math(1)),
        (.silu, math(1)), (.abs, math(1)),
        (.max, Declaration(arity: 2...2, signature: "max(a, b)")), (.min, Declaration(arity: 2...2, signature: "min(a, b)")),
        (.ceil, scalar(1, "")), (.floor, scalar(1, "")), (.log2, scalar(1, "")), (.round, scalar(1, "")),
        (.cdiv, scalar(2, "cdiv(a, b)")), (.bytes, scalar(1, "")),
        (.zeros, tileOp(2...3, "zeros(rows, cols[, dtype])")), (.full, tileOp(3...4, "full(rows, cols, value[, dtype])")),
        (.cast, tileOp(2...2, "cast(tile, dtype)")), (.copy, tileOp(1...1, "")), (.transpose, tileOp(1...1, "")),
        (.rowmax, tileOp(1...1, "")), (.rowsum, tileOp(1...1, "")), (.rowmean, tileOp(1...1, "")), (.softmax, tileOp(1...1, "")),
        (.mask_causal, tileOp(3...3, "mask_causal(scores, row_tile, col_tile)", ranges: [1, 2])),
        (.mask_window, tileOp(4...4, "mask_window(scores, row_tile, col_tile, window)", ranges: [1, 2])),
        (.alibi, tileOp(4...4, "alibi(scores, row_tile, col_tile, slope)", ranges: [1, 2])),
        (.topk, tileOp(2...2, "topk(tile, k)")), (.argtopk, tileOp(2...2, "argtopk(tile, k)")), (.top_p, tileOp(2...2, "top_p(probs, p)")),
        (.sinusoidal, tileOp(2...2, "sinusoidal(row_tile, cols)", ranges: [0])),
        (.dispatch, tileOp(3...3, "dispatch(route, expert, capacity)")),
        (.dispatch_gate, tileOp(4...4, "dispatch_gate(route, gates, expert, capacity)")),
        (.expert_load, tileOp(2...2, "expert_load(route, experts)")),
    ]
    static let builtInByName: [String: Declaration] = Dictionary(uniqueKeysWithValues: builtIn.map { ($0.0.rawValue, $0.1) })

    /// Ops registered at run time (a test's own op; see `register`).
    nonisolated(unsafe) static var registered: [String: Declaration] = [:]
    static let lock = NSLock()

    /// Declares a tile op `name` taking a source tile first: the checker then accepts calls to
    /// it. Its cost, shape and numeric kernel are its row of the op table (`OpSpec.register`).
    /// A built-in name cannot be taken.
    public static func register(_ name: String, arity: ClosedRange<Int>, signature: String) -> Builtin? {
        guard builtInByName[name] == nil else { return nil }
        lock.lock(); defer { lock.unlock() }
        registered[name] = tileOp(arity, signature)
        return Builtin(name)
    }

    static func declaration(of name: String) -> Declaration? {
        if let d = builtInByName[name] { return d }
        lock.lock(); defer { lock.unlock() }
        return registered[name]
    }

    var declaration: Declaration { Self.declaration(of: rawValue)! }

    /// Every declared function, built-ins first.
    public static var allCases: [Builtin] {
        lock.lock(); defer { lock.unlock() }
        return builtIn.map(\.0) + registered.keys.sorted().map(Builtin.init)
    }

    /// Allowed argument counts.
    public var arity: ClosedRange<Int> { declaration.arity }
    public var signature: String {
        let s = declaration.signature
        return s.isEmpty ? "\(rawValue)(x)" : s
    }
    /// Functions that only make sense on parameters.
    public var scalarOnly: Bool { declaration.scalarOnly }
    /// Functions whose result is always a tile.
    public var makesTile: Bool { declaration.makesTile }
    /// Argument positions that take a tile range.
    public var rangeArguments: Set<Int> { declaration.rangeArguments }
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
