import Foundation
import Testing
import KernLang
import Numerics
@testable import Simulator

/// Numeric runs hand the blocks of parallel loops to worker threads (issue 21). The values
/// must be those of a run on one thread, bit for bit, whatever the number of threads.
@Suite struct ParallelNumericTests {
    static let a100 = GPUModel.preset(named: "a100-80gb")!

    /// Sizes that keep the kernels whose defaults take seconds in a debug build quick; ragged
    /// against their tiles where a size allows, so that partial blocks run apart too.
    static let sizes: [String: [String: ParamValue]] = smallModelParams.merging([
        "Kernels/stack/sdpa_decode.kern": ["B": .int(2), "H": .int(4), "KVH": .int(2), "ctx": .int(300), "d": .int(32)],
        "Kernels/stack/sdpa_flash.kern": ["BH": .int(2), "N": .int(300), "d": .int(32), "causal": .int(1)],
        "Kernels/stack/decode_attention.kern": ["ctx": .int(600), "P": .int(300), "H": .int(4), "hd": .int(32)],
        "Kernels/stack/eager_attention.kern": ["BH": .int(2), "N": .int(300), "d": .int(32)],
        "Kernels/stack/embedding.kern": ["vocab": .int(1100), "d": .int(64)],
        "Kernels/stack/quant_matmul.kern": ["T": .int(3), "K": .int(512), "N": .int(600)],
    ]) { $1 }

    static let kernels = shippedKernels()

    func run(_ program: CheckedProgram, params: [String: ParamValue], threads: Int) throws -> (outputs: [String: OutputTensor], apart: Int) {
        var numeric = NumericOptions()
        numeric.threads = threads
        let interp = Interpreter(program: program, options: RunOptions(gpu: Self.a100, overrides: params), numeric: numeric)
        _ = try interp.run()
        return (interp.outputs, interp.numerics!.blocksRunApart)
    }

    @Test(arguments: kernels)
    func valuesOnThreeThreadsAreThoseOnOne(_ path: String) throws {
        let p = try program(path), params = Self.sizes[path] ?? [:]
        let one = try run(p, params: params, threads: 1), three = try run(p, params: params, threads: 3)
        #expect(one.apart == 0)
        #expect(!one.outputs.isEmpty)
        for (name, o) in one.outputs {
            let other = try #require(three.outputs[name])
            #expect(o.values.map(\.bitPattern) == other.values.map(\.bitPattern), "\(path): output \(name) differs between 1 and 3 threads")
        }
    }

    /// Flash attention's grid is its query tiles: every one runs on a worker (N / Br blocks).
    @Test func flashAttentionsQueryTilesRunOnWorkers() throws {
        let r = try run(try program("Kernels/flash_attention.kern"), params: ["N": .int(300), "d": .int(16), "Br": .int(64), "Bc": .int(64)], threads: 2)
        #expect(r.apart == 5)   // ceil(300 / 64)
    }

    /// A loop whose blocks share a tile (an accumulator from outside it) runs its blocks in
    /// order on the interpreter's thread: the sum is that of the sequential reading.
    @Test func blocksThatShareATileRunInOrder() throws {
        let p = try programFromText("""
        kernel k {
            input X[8, 4] f32
            output Y[2, 4] f32
            acc = zeros(2, 4, f32)
            parallel for i in tiles(8, 2) {
                x = load X[i, :]
                acc += x
            }
            store acc -> Y
        }
        """)
        var inputs = NumericOptions()
        let x = (0..<32).map { Double($0) }
        inputs.inputs = ["X": .init(shape: [8, 4], values: x)]
        inputs.threads = 3
        let interp = Interpreter(program: p, options: RunOptions(gpu: Self.a100), numeric: inputs)
        _ = try interp.run()
        #expect(interp.numerics!.blocksRunApart == 0)
        // Column sums of X: sum over rows r of (4 r + c).
        // Row r of X adds 4 r + c to column c of row r % 2 of the accumulator.
        var want = [Double](repeating: 0, count: 8)
        for r in 0..<8 { for c in 0..<4 { want[(r % 2) * 4 + c] += Double(4 * r + c) } }
        #expect(interp.outputs["Y"]!.values == want)
    }

    /// A block that fails on a worker reports the statement and message a run on one thread
    /// reports, and the first failing block's, whatever order the blocks finished in.
    @Test func aFailingBlockIsReportedAtItsStatement() throws {
        let p = try programFromText("""
        kernel k {
            input ids[8, 1] i32
            input E[4, 4] f32
            output Y[8, 4] f32
            parallel for i in tiles(8, 2) {
                t = load ids[i, :]
                x = gather E[t]
                store x -> Y[i, :]
            }
        }
        """)
        func failure(threads: Int) -> String {
            var numeric = NumericOptions()
            numeric.threads = threads
            // Rows 5 and 7 are out of the table's 4 rows; block 2 (rows 4-5) fails first.
            numeric.inputs = ["ids": .init(shape: [8, 1], values: [0, 1, 2, 3, 0, 5, 1, 7])]
            do {
                _ = try Interpreter(program: p, options: RunOptions(gpu: Self.a100), numeric: numeric).run()
                return "no failure"
            } catch { return "\(error)" }
        }
        let one = failure(threads: 1)
        #expect(one.contains("gather index 5 is outside the table's 4 rows"))
        #expect(one.contains("test.kern:7:"))
        #expect(failure(threads: 3) == one)
    }
}
