import ArgumentParser
import Foundation
import KernLang
import Numerics
import Simulator

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run two kernels on the same inputs and compare their outputs element by element.",
        discussion: prose("""
        Both kernels get the same parameters (each takes the ones it declares) and the same seeded
        inputs (by tensor name). Exits 1 when an output's relative Frobenius error exceeds --rtol
        (default by dtype: f32 1e-5, bf16 3e-2, f16 1e-2, f8 1e-1, integers 0).
        Example:
          gpusim verify Kernels/flash_attention.kern --against Kernels/standard_attention.kern --N 512 --dt f32
        """))

    @Argument(help: "The kernel under test.")
    var kernel: String

    @Option(help: "The reference kernel.")
    var against: String

    @Option(help: "Relative Frobenius tolerance (overrides the per-dtype default).")
    var rtol: Double?

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    @OptionGroup var gpuOptions: GPUOptions
    @OptionGroup var numericFlags: NumericFlags

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    static func defaultTolerance(_ d: DType) -> Double {
        switch d {
        case .f32: 1e-5
        case .bf16: 3e-2
        case .f16: 1e-2
        case .f8: 1e-1
        case .i8, .i4, .i32: 0
        }
    }

    func run() throws {
        let overrides = try parseKernelParams(params)
        let gpu = try gpuOptions.model()
        let numeric = try numericFlags.options()
        let a = try loadProgram(kernel), b = try loadProgram(against)
        let knownA = Set(a.entryKernel.params.map(\.name)), knownB = Set(b.entryKernel.params.map(\.name))
        for name in overrides.keys where !knownA.contains(name) && !knownB.contains(name) {
            throw ValidationError("--\(name): neither kernel has a parameter '\(name)'")
        }
        func outputs(_ p: CheckedProgram, _ known: Set<String>) throws -> [String: OutputTensor] {
            let opts = RunOptions(gpu: gpu, overrides: overrides.filter { known.contains($0.key) })
            do { return try Runner.runNumeric(p, options: opts, numeric: numeric).outputs } catch { throw failRun(error) }
        }
        let got = try outputs(a, knownA), want = try outputs(b, knownB)
        let common = got.keys.filter { want[$0] != nil }.sorted()
        guard !common.isEmpty else {
            printError("gpusim: error: the kernels share no output tensor (\(a.entryKernel.name): \(got.keys.sorted().joined(separator: ", ")); \(b.entryKernel.name): \(want.keys.sorted().joined(separator: ", ")))")
            throw ExitCode(1)
        }
        var failed = false
        var rows: [[String: String]] = []
        for name in common {
            let x = got[name]!, y = want[name]!
            guard x.shape == y.shape else {
                printError("gpusim: error: output '\(name)' has shape \(x.shape) in \(kernel) but \(y.shape) in \(against)")
                throw ExitCode(1)
            }
            let c = Comparison(x.values, reference: y.values)
            let tol = rtol ?? Self.defaultTolerance(x.dtype)
            let ok = c.relativeFrobenius <= tol && c.nonFinite == 0
            failed = failed || !ok
            let idx = Comparison.unflatten(c.worstIndex, x.shape.map(Int.init))
            rows.append(["output": name, "max_abs_error": "\(c.maxAbsError)", "relative_frobenius": "\(c.relativeFrobenius)",
                         "worst_index": "\(idx)", "worst_value": "\(c.worstValue)", "worst_reference": "\(c.worstReference)",
                         "non_finite": "\(c.nonFinite)", "rtol": "\(tol)", "ok": "\(ok)"])
            if !json {
                print("\(name) \(x.shape) \(x.dtype.rawValue): max abs error \(String(format: "%.3e", c.maxAbsError)), relative Frobenius \(String(format: "%.3e", c.relativeFrobenius)) (rtol \(tol)), worst at \(idx): \(c.worstValue) vs \(c.worstReference)"
                      + (c.nonFinite > 0 ? ", \(c.nonFinite) non-finite mismatches" : "") + (ok ? "  ok" : "  FAIL"))
            }
        }
        if json {
            try printJSON(rows)
        }
        if failed { throw ExitCode(1) }
    }
}
