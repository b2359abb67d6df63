import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

/// The op table is the one place an op is declared: a test adds one with a table row and a
/// numeric kernel only, and the checker, the simulator, numeric runs and `gpusim complexity`
/// all take it from there.
@Suite struct OpTableTests {
    /// Registered once for the whole process (the table is global); the name is this test's own.
    static let square: Builtin? = OpSpec.register(
        "square_for_test", arity: 1...1, signature: "square_for_test(tile)",
        OpSpec(charged: .mul, rows: .sourceRows, cols: .sourceCols) { x, _, _ in x.map { $0 * $0 } })

    static let kernel = """
        kernel sq {
            param N = 4
            input X[N, 2] f32 = [1, 2, 3, 4, 5, 6, 7, 8]
            output Y[N, 2] f32
            for i in tiles(N, 2) {
                x = load X[i, :]
                y = square_for_test(x)
                store y -> Y[i, :]
            }
        }
        """

    @Test func aTestDefinedOpRunsInEveryPart() throws {
        #expect(Self.square?.rawValue == "square_for_test")
        let p = try Checker.check(file: SourceFile(path: "sq.kern", text: Self.kernel), loader: { _, _ in nil }).get()
        let gpu = GPUModel.preset(named: "h100-sxm")!
        // Simulation: 8 f32 elements read and written; one multiply per element (weight 1).
        let s = try Runner.run(p, options: RunOptions(gpu: gpu))
        #expect(s.hbm.read_bytes == 32 && s.hbm.write_bytes == 32 && s.flops.total == 8)
        // Numeric run: the kernel's values, squared.
        let out = try Runner.runNumeric(p, options: RunOptions(gpu: gpu), numeric: NumericOptions()).outputs
        #expect(out["Y"]?.values == [1, 4, 9, 16, 25, 36, 49, 64])
        // Closed form from the same row: N*2 multiplies, 8 N bytes each way; equal to the run.
        let params = try Interpreter(program: p, options: RunOptions(gpu: gpu)).resolveParams()
        let c = try IOComplexity.derive(program: p, gpu: gpu, params: params)
        #expect(c.flops.description == "2*N")
        #expect(c.readBytes.evaluate(c.atomValues(params)) == 32)
    }

    @Test func builtInNamesCannotBeTakenAndMisuseIsDiagnosed() throws {
        #expect(OpSpec.register("exp", arity: 1...1, signature: "exp(x)", OpSpec(charged: .exp, rows: .sourceRows, cols: .sourceCols) { x, _, _ in x }) == nil)
        _ = Self.square
        let bad = Self.kernel.replacingOccurrences(of: "square_for_test(x)", with: "square_for_test(x, x)")
        let d = Checker.check(file: SourceFile(path: "sq.kern", text: bad), loader: { _, _ in nil })
        guard case .failure(let list) = d else { Issue.record("two arguments were accepted"); return }
        #expect(list.items.first?.message == "'square_for_test' takes 1 argument, got 2")
    }
}
