import Foundation
import KernLang
import Simulator

/// gpusim against real counters: every workload of a `measurements.json` (the layout of
/// ../shared/reference/h100/: a workload family, its parameters and its ncu file), modelled
/// with the shipped kernel that describes the same work the natural way, run on a preset, with
/// DRAM bytes and kernel time against what Nsight Compute measured.
public struct CounterValidation: Sendable {
    public struct Row: Sendable, Encodable {
        public var workload: String
        public var kernel: String
        public var params: [String: ParamValue]
        public var measured_dram_bytes: Int64
        public var predicted_dram_bytes: Int64
        public var measured_seconds: Double
        public var predicted_seconds: Double
        /// All L2 traffic (`lts__t_bytes`), when the file has it.
        public var measured_l2_bytes: Int64?
        public var predicted_l2_bytes: Int64?
        public var dram_error: Double { Double(predicted_dram_bytes - measured_dram_bytes) / Double(measured_dram_bytes) }
        public var l2_error: Double? {
            guard let m = measured_l2_bytes, let p = predicted_l2_bytes, m > 0 else { return nil }
            return Double(p - m) / Double(m)
        }
        public var time_error: Double { (predicted_seconds - measured_seconds) / measured_seconds }

        enum CodingKeys: String, CodingKey { case workload, kernel, params, measured_dram_bytes, predicted_dram_bytes, measured_seconds, predicted_seconds, dram_error, time_error, measured_l2_bytes, predicted_l2_bytes, l2_error }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(workload, forKey: .workload); try c.encode(kernel, forKey: .kernel); try c.encode(params, forKey: .params)
            try c.encode(measured_dram_bytes, forKey: .measured_dram_bytes); try c.encode(predicted_dram_bytes, forKey: .predicted_dram_bytes)
            try c.encode(measured_seconds, forKey: .measured_seconds); try c.encode(predicted_seconds, forKey: .predicted_seconds)
            try c.encode(dram_error, forKey: .dram_error); try c.encode(time_error, forKey: .time_error)
            try c.encodeIfPresent(measured_l2_bytes, forKey: .measured_l2_bytes); try c.encodeIfPresent(predicted_l2_bytes, forKey: .predicted_l2_bytes)
            try c.encodeIfPresent(l2_error, forKey: .l2_error)
        }
    }

    public var rows: [Row] = []
    /// Workloads no shipped kernel models yet, with why.
    public var skipped: [(workload: String, why: String)] = []

    struct Entry: Decodable {
        var workload: String
        var params: [String: ParamValue]
        var ncu_file: String
        var dram_read_bytes: Int64
        var dram_write_bytes: Int64
        var kernel_time_ns: Int64
        var l2_bytes: Int64?
    }

    /// The output tile of a cuBLAS kernel, from its name (`nvjet_sm90_hsh_256x128_64x4_...`:
    /// 256 x 128), as the measured launch chose it.
    static func gemmTile(kernelName: String) -> (Int64, Int64)? {
        for part in kernelName.split(separator: "_") {
            let xy = part.split(separator: "x")
            if xy.count == 2, let a = Int64(xy[0]), let b = Int64(xy[1]) { return (a, b) }
        }
        return nil
    }

    /// The shipped kernel and parameters for a workload family, or why there is none. A GEMM
    /// gets the output tile its measured kernel used (`tile`), else 128 x 128.
    static func model(_ family: String, _ p: [String: ParamValue], tile: (Int64, Int64)? = nil) -> Result<(String, [String: ParamValue]), ImportError> {
        func v(_ k: String) -> ParamValue? { p[k] }
        func need(_ k: String) throws(ImportError) -> ParamValue {
            guard let x = p[k] else { throw ImportError("its params have no '\(k)', which a '\(family)' workload needs") }
            return x
        }
        let causal = v("causal") == .bool(true)
        var direction = "forward"
        if case .dtype(let x)? = v("direction") { direction = x }
        do throws(ImportError) {
            if family == "sdpa_flash" && direction == "backward" {
                // FlashAttention-2's backward tiles (sm_80 build, 144 KB+ of shared memory):
                // 128 query x 128 key rows at d = 64, 64 x 128 at d = 128.
                guard case .int(let d) = try need("d") else { throw ImportError("its 'd' is not a whole number") }
                return .success(("stack/sdpa_flash_backward", ["N": try need("N"), "d": .int(d), "BH": try need("BH"), "Br": .int(d > 64 ? 64 : 128),
                                                               "Bc": .int(128), "causal": .int(causal ? 1 : 0), "arch": .int(80)]))
            }
            if family == "eager" && causal && direction == "backward" {
                return .failure(ImportError("the backward pass of causal eager attention (its mask's gradient is a launch of its own) has no shipped kernel yet"))
            }
            if family == "eager" && direction == "backward" {
                // Autograd's six launches: two GEMMs from P V, the softmax backward, the scale's, two GEMMs from Q K^T.
                return .success(("stack/eager_attention_backward", ["N": try need("N"), "d": try need("d"), "BH": try need("BH")]))
            }
            // Other backward passes have no stack kernel yet; say so rather than model a forward pass.
            if direction != "forward" { return .failure(ImportError("the \(direction) pass of '\(family)' has no shipped kernel yet")) }
            switch family {
            case "eager":
                return .success(("stack/eager_attention", ["N": try need("N"), "d": try need("d"), "BH": try need("BH"), "causal": .int(causal ? 1 : 0)]))
            case "sdpa_flash":
                // FlashAttention-2's tiles: 128 x 128 at d = 64, 128 x 64 at d = 128; its build targets sm_80.
                guard case .int(let d) = try need("d") else { throw ImportError("its 'd' is not a whole number") }
                return .success(("stack/sdpa_flash", ["N": try need("N"), "d": .int(d), "BH": try need("BH"), "Br": .int(128), "Bc": .int(d > 64 ? 64 : 128), "causal": .int(causal ? 1 : 0), "arch": .int(80)]))
            case "triton_flash":
                // Triton's launch: num_warps 4 up to 64-row tiles, 8 above (the workloads' definition).
                guard case .int(let bm) = try need("BM") else { throw ImportError("its 'BM' is not a whole number") }
                return .success(("stack/sdpa_flash", ["N": try need("N"), "d": try need("d"), "BH": try need("BH"), "Br": .int(bm), "Bc": try need("BN"),
                                                      "causal": .int(causal ? 1 : 0), "num_warps": .int(bm <= 64 ? 4 : 8)]))
            case "gemm":
                // A GEMM as a tiled grid over output tiles, at most M rows tall (a GEMV: one row).
                // With fewer rows than its tile's, cuBLAS computes the transpose (W^T X^T): the
                // tile's first side then runs along N (a GEMV's 64 x 8 tile is 64 outputs wide:
                // its measured grid is N / 64 = 64 blocks, not N / 8).
                var m: Int64 = 128
                if case .int(let x)? = v("M") { m = x }
                var (bm, bn) = tile ?? (128, 128)
                if m < bm { (bm, bn) = (bn, bm) }
                return .success(("stack/matmul", ["T": try need("M"), "K": try need("K"), "N": try need("N"), "BM": .int(Swift.min(m, bm)), "BN": .int(bn)]))
            case "rmsnorm", "layernorm":
                return .success(("stack/\(family)", ["T": try need("T"), "d": try need("D")]))
            case "decode_attention":
                return .success(("stack/sdpa_decode", ["B": try need("B"), "H": try need("H"), "KVH": try need("KVH"), "ctx": try need("ctx"), "d": try need("d")]))
            default:
                return .failure(ImportError("no shipped kernel models '\(family)' workloads yet"))
            }
        } catch { return .failure(error) }
    }

    /// Runs every workload of `measurementsPath` on `gpu`.
    public init(measurementsPath: String, gpu: GPUModel, cache: CacheMode = .flush) throws(ImportError) {
        let text = try NsightCSV.readText(measurementsPath)
        let entries: [String: Entry]
        do { entries = try JSONDecoder().decode([String: Entry].self, from: Data(text.utf8)) } catch {
            throw ImportError("'\(measurementsPath)' is not a measurements file (a JSON object of workloads with \"workload\", \"params\", \"ncu_file\", DRAM bytes and kernel_time_ns)")
        }
        for (name, e) in entries.sorted(by: { $0.key < $1.key }) {
            let dir = (measurementsPath as NSString).deletingLastPathComponent
            let measured = try? NsightCSV.read((dir as NSString).appendingPathComponent(e.ncu_file))
            let tile = e.workload == "gemm" ? measured?.launches.first.flatMap { Self.gemmTile(kernelName: $0.name) } : nil
            switch Self.model(e.workload, e.params, tile: tile) {
            case .failure(let why): skipped.append((name, why.description))
            case .success(let (kernel, params)):
                do {
                    guard case .success(let program) = try Runner.load(kernel) else { throw ImportError("'\(kernel)' has errors") }
                    let s = try Runner.run(program, options: RunOptions(gpu: gpu, overrides: params, cache: cache))
                    rows.append(Row(workload: name, kernel: kernel, params: params,
                                    measured_dram_bytes: e.dram_read_bytes + e.dram_write_bytes, predicted_dram_bytes: s.hbm.total_bytes,
                                    measured_seconds: Double(e.kernel_time_ns) * 1e-9, predicted_seconds: s.time.kernel ?? s.time.total,
                                    measured_l2_bytes: e.l2_bytes, predicted_l2_bytes: s.l2?.bytes))
                } catch {
                    // One workload that cannot run (a size the kernel refuses) is reported, not fatal.
                    skipped.append((name, "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"))
                }
            }
        }
    }

    static func median(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : Benchmark.median(xs) }
    public var medianDRAMError: Double { Self.median(rows.map { abs($0.dram_error) }) }
    public var medianTimeError: Double { Self.median(rows.map { abs($0.time_error) }) }
    public var medianL2Error: Double { Self.median(rows.compactMap { $0.l2_error.map(abs) }) }
}
