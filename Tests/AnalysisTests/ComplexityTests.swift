import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

@Suite struct ComplexityTests {
    let seed = GPUModel.preset(named: "seed-a100")!

    func derive(_ kernel: String, gpu: GPUModel) throws -> (IOComplexity, CheckedProgram) {
        let p = try program(kernel)
        let params = try Interpreter(program: p, options: RunOptions(gpu: gpu)).resolveParams()
        return (try IOComplexity.derive(program: p, gpu: gpu, params: params), p)
    }

    @Test func aSwitchParameterPicksItsBranch() throws {
        // sdpa_flash's `if causal == 0 || j.start < i.end`: with causal = 0 the condition holds
        // for every tile, so the cost has a closed form; with causal = 1 it depends on positions.
        let h100 = GPUModel.preset(named: "h100-sxm")!, p = try program("Kernels/stack/sdpa_flash.kern")
        func derive(_ causal: Int64) throws -> IOComplexity {
            let params = try Interpreter(program: p, options: RunOptions(gpu: h100, overrides: ["causal": .int(causal)])).resolveParams()
            return try IOComplexity.derive(program: p, gpu: h100, params: params)
        }
        let plain = try derive(0)
        #expect(plain.asymptotic(plain.flops) == "Θ(BH N^2 d)")
        #expect(throws: IOComplexity.Failure.self) { try derive(1) }
    }

    @Test func flashFormulasInTheKernelsParameters() throws {
        let (c, _) = try derive("Kernels/flash_attention.kern", gpu: seed)
        #expect(c.readBytes.description == "2*N*d + 4*N*ceil(N/Br)*d")
        #expect(c.writeBytes.description == "2*N*d")
        #expect(c.asymptotic(c.readBytes) == "Θ(N^2 d / Br)")
        #expect(c.asymptotic(c.flops) == "Θ(N^2 d)")
        let (two, _) = try derive("Kernels/attention_2d.kern", gpu: seed)
        #expect(two.asymptotic(two.writeBytes) == "Θ(N^2)")
    }

    static let kernels = shippedKernels()

    /// Kernels whose cost depends on where a tile is (a causal or windowed mask skips tiles by
    /// position): no closed form, and the derivation must say so rather than guess.
    static let positional: Set<String> = [
        "Kernels/flash_attention_causal.kern", "Kernels/stack/sliding_window_attention.kern", "Kernels/stack/alibi_attention.kern",
        "Kernels/stack/mha_causal.kern", "Kernels/stack/cached_attention.kern", "Kernels/models/gpt2_small.kern", "Kernels/models/llama2_7b.kern",
    ]

    /// Kernels whose size parameter cannot vary on its own: the parameter varied instead, or nil
    /// for a fixed-size example (its inputs are given as literal values).
    static let sizeParameter: [String: String?] = [
        "Kernels/examples/online_softmax.kern": nil,
    ]

    /// The formulas agree exactly with simulation for every shipped kernel, on a seed and a real
    /// preset, at every value of each dtype parameter the kernel accepts (its `require`s may
    /// refuse some), at three sizes of its size parameter up to the default (n, n - n/3, n/2: ragged
    /// against power-of-two tiles).
    /// Every size must run: one that does not is a failure, not a skip.
    @Test(arguments: kernels)
    func formulasMatchSimulation(_ kernel: String) throws {
        let p = try program(kernel)
        for gpu in [seed, GPUModel.preset(named: "h100-sxm")!] {
            let defaults = try Interpreter(program: p, options: RunOptions(gpu: gpu)).resolveParams()
            if Self.positional.contains(kernel) {
                #expect { _ = try IOComplexity.derive(program: p, gpu: gpu, params: defaults) } throws: {
                    "\($0)".contains("a condition makes the cost depend on positions")
                }
                continue
            }
            var variants: [[String: ParamValue]] = [[:]]
            for (name, value) in defaults.sorted(by: { $0.key < $1.key }) {
                guard case .dtype(let d) = value else { continue }
                variants += DType.allCases.filter { $0.rawValue != d }.map { [name: .dtype($0.rawValue)] }
            }
            var accepted = 0
            for variant in variants {
                do { _ = try Interpreter(program: p, options: RunOptions(gpu: gpu, overrides: variant)).run() } catch {
                    // A dtype the kernel refuses by a requirement is not one it accepts.
                    #expect("\(error)".contains("requirement failed"), "\(kernel) \(variant): \(error)")
                    continue
                }
                accepted += 1
                let params = try Interpreter(program: p, options: RunOptions(gpu: gpu, overrides: variant)).resolveParams()
                let c = try IOComplexity.derive(program: p, gpu: gpu, params: params)
                let size: String? = Self.sizeParameter[kernel] ?? c.sizeParameter
                var sizes: [Int64?] = [nil]   // nil: the kernel's own size
                if let size {
                    guard case .int(let n)? = params[size] else { Issue.record("\(kernel): size parameter \(size) is not a whole number"); continue }
                    sizes = Set([n, n - n / 3, n / 2].filter { $0 > 0 }).sorted()
                }
                for v in sizes {
                    var o = variant
                    if let size, let v { o[size] = .int(v) }
                    let opts = RunOptions(gpu: gpu, overrides: o)
                    let s = try Interpreter(program: p, options: opts).run()
                    let values = c.atomValues(try Interpreter(program: p, options: opts).resolveParams())
                    let at = "\(kernel) on \(gpu.name) \(variant) \(size ?? "") \(v.map(String.init) ?? "default")"
                    #expect(c.readBytes.evaluate(values) == Double(s.requestedReadBytes), "\(at) reads")
                    #expect(c.writeBytes.evaluate(values) == Double(s.requestedWriteBytes), "\(at) writes")
                    #expect(c.flops.evaluate(values) == Double(s.flops.total), "\(at) flops")
                    #expect(c.peak(values) == Double(s.sram.peak_bytes), "\(at) peak")
                }
            }
            #expect(accepted > 0, "\(kernel) accepts none of its dtypes")
        }
    }

    /// int4 weights move at half a byte each, rounded up per tile as the simulator counts them;
    /// derived by hand for one tile shape: a (BK x BN) = (128 x 256) tile of i4 is 16,384 bytes.
    @Test func subByteWeightsRoundUpPerTile() throws {
        let gpu = GPUModel.preset(named: "h100-sxm")!
        let p = try program("Kernels/stack/quant_matmul.kern")
        let params = try Interpreter(program: p, options: RunOptions(gpu: gpu, overrides: ["wdt": .dtype("i4")])).resolveParams()
        let c = try IOComplexity.derive(program: p, gpu: gpu, params: params)
        // T = 1, K = N = 4096: X (2 KB) per column tile, Wq 4096 x 4096 / 2 bytes, scales 2 bytes per column.
        let values = c.atomValues(params)
        #expect(c.readBytes.evaluate(values) == Double(16 * 8192 + 4096 * 4096 / 2 + 4096 * 2))
        #expect(c.atoms.definitions.keys.contains { $0.hasPrefix("ceil((4*") })
    }

    @Test func polynomialArithmetic() {
        let n = Poly(atom: "N"), d = Poly(atom: "d")
        let p = (n + Poly(2)) * (n - Poly(2)) * d
        #expect(p.description == "-4*d + N^2*d")
        #expect(p.substitute("N", Poly(3)).description == "5*d")
        #expect(p.evaluate(["N": 10, "d": 2]) == 192)
    }
}
