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

    @Test func flashFormulasInTheKernelsParameters() throws {
        let (c, _) = try derive("Kernels/flash_attention.kern", gpu: seed)
        #expect(c.readBytes.description == "2*N*d + 4*N*ceil(N/Br)*d")
        #expect(c.writeBytes.description == "2*N*d")
        #expect(c.asymptotic(c.readBytes) == "Θ(N^2 d / Br)")
        #expect(c.asymptotic(c.flops) == "Θ(N^2 d)")
        let (two, _) = try derive("Kernels/attention_2d.kern", gpu: seed)
        #expect(two.asymptotic(two.writeBytes) == "Θ(N^2)")
    }

    static let kernels = ["Kernels/standard_attention.kern", "Kernels/attention_1d.kern", "Kernels/attention_2d.kern", "Kernels/flash_attention.kern",
                          "Kernels/stack/linear.kern", "Kernels/stack/rmsnorm.kern", "Kernels/stack/layernorm.kern", "Kernels/stack/swiglu_mlp.kern",
                          "Kernels/stack/gelu_mlp.kern", "Kernels/stack/residual_add.kern", "Kernels/stack/embedding.kern", "Kernels/models/tiny_mlp_stack.kern"]

    /// The formulas agree exactly with simulation at several sizes, ragged ones included.
    @Test(arguments: kernels)
    func formulasMatchSimulation(_ kernel: String) throws {
        for gpu in [seed, GPUModel.preset(named: "h100-sxm")!] {
            let (c, p) = try derive(kernel, gpu: gpu)
            let size = c.sizeParameter!
            for v: Int64 in [96, 200, 333] {
                let opts = RunOptions(gpu: gpu, overrides: [size: .int(v)])
                guard let s = try? Interpreter(program: p, options: opts).run() else { continue }   // e.g. 1D tiling that does not fit
                let values = c.atomValues(try Interpreter(program: p, options: opts).resolveParams())
                #expect(c.readBytes.evaluate(values) == Double(s.requestedReadBytes), "\(kernel) \(size)=\(v) reads")
                #expect(c.writeBytes.evaluate(values) == Double(s.hbm.write_bytes), "\(kernel) \(size)=\(v) writes")
                #expect(c.flops.evaluate(values) == Double(s.flops.total), "\(kernel) \(size)=\(v) flops")
                #expect(c.peak(values) == Double(s.sram.peak_bytes), "\(kernel) \(size)=\(v) peak")
            }
        }
    }

    @Test func conditionsHaveNoClosedForm() throws {
        #expect { _ = try derive("Kernels/flash_attention_causal.kern", gpu: seed) } throws: {
            "\($0)".contains("a condition makes the cost depend on positions")
        }
    }

    @Test func polynomialArithmetic() {
        let n = Poly(atom: "N"), d = Poly(atom: "d")
        let p = (n + Poly(2)) * (n - Poly(2)) * d
        #expect(p.description == "-4*d + N^2*d")
        #expect(p.substitute("N", Poly(3)).description == "5*d")
        #expect(p.evaluate(["N": 10, "d": 2]) == 192)
    }
}
