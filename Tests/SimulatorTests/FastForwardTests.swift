import Foundation
import Testing
import KernLang
@testable import Simulator

/// Fast-forwarding skips loop iterations that would repeat exactly; the summary must be
/// identical to simulating every iteration.
@Suite struct FastForwardTests {
    func both(_ program: CheckedProgram, gpu: String, _ params: [String: ParamValue]) throws -> (RunSummary, RunSummary) {
        let options = RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params)
        let fast = try Interpreter(program: program, options: options).run()
        let slow = Interpreter(program: program, options: options)
        slow.fastForward = false
        return (fast, try slow.run())
    }

    static let cases: [(String, String, [String: ParamValue])] = [
        ("Kernels/standard_attention.kern", "seed-a100", [:]),
        ("Kernels/attention_1d.kern", "seed-a100", ["N": .int(500)]),
        ("Kernels/attention_2d.kern", "seed-a100", ["N": .int(1500), "d": .int(64)]),
        ("Kernels/attention_2d.kern", "a100-80gb", ["N": .int(1024), "d": .int(128)]),
        ("Kernels/flash_attention.kern", "seed-a100", ["N": .int(2000), "d": .int(64)]),
        ("Kernels/flash_attention.kern", "h100-sxm", ["N": .int(3000), "d": .int(128), "Br": .int(64), "Bc": .int(128)]),
        ("Kernels/flash_attention.kern", "seed-v100", ["N": .int(1990), "d": .int(64)]),
        // Guards (`if causal == 0 || j.start < i.end`): decided true with causal = 0, so the
        // loops fast-forward; with causal = 1 they vary and run in full.
        ("Kernels/stack/sdpa_flash.kern", "h100-sxm", ["N": .int(1000), "BH": .int(3), "Br": .int(64), "Bc": .int(32), "arch": .int(80)]),
        ("Kernels/stack/sdpa_flash.kern", "h100-sxm", ["N": .int(1000), "BH": .int(3), "Br": .int(64), "Bc": .int(32), "causal": .int(1)]),
        ("Kernels/stack/sdpa_flash_backward.kern", "h100-sxm", ["N": .int(1000), "BH": .int(3), "Br": .int(64), "Bc": .int(32)]),
        ("Kernels/stack/sdpa_flash_backward.kern", "a100-80gb", ["N": .int(1000), "BH": .int(3), "Br": .int(64), "Bc": .int(32), "causal": .int(1)]),
        // A small batch splits the cache (the last split ragged) and merges in a second launch.
        ("Kernels/stack/sdpa_decode.kern", "h100-sxm", ["B": .int(1), "H": .int(8), "KVH": .int(2), "ctx": .int(1000), "d": .int(64)]),
    ]

    @Test(arguments: 0..<cases.count)
    func identicalToFullSimulation(_ i: Int) throws {
        let (path, gpu, params) = Self.cases[i]
        let (fast, slow) = try both(try program(path), gpu: gpu, params)
        #expect(fast == slow)
        #expect(fast.hbm.read_bytes > 0)
    }

    @Test func shippedKernelsAtDefaults() throws {
        for path in shippedKernels() {
            // Whole models are compared at small sizes (their full sizes are what fast-forward is for).
            let (fast, slow) = try both(try program(path), gpu: "seed-a100", smallModelParams[path] ?? [:])
            #expect(fast == slow, "\(path)")
        }
    }

    @Test func shippedKernelsOnARealPreset() throws {
        // Waves, idle slots and launch overheads are counted from the same integers, so they
        // fast-forward exactly too.
        for path in shippedKernels() {
            let (fast, slow) = try both(try program(path), gpu: "a100-80gb", smallModelParams[path] ?? [:])
            #expect(fast == slow, "\(path)")
        }
    }

    @Test func nonUniformLoopsAreSimulatedInFull() throws {
        // The condition reads the loop positions: a guard of each loop, which the interpreter
        // finds may vary (nothing known decides it), so every iteration is simulated.
        let text = """
        kernel causal {
            param N = 100
            param T = 7
            input Q[N, N] f16
            for i in tiles(N, T) {
                for j in tiles(N, T) {
                    if j.start <= i.start {
                        t = load Q[i, j]
                    }
                }
            }
        }
        """
        let p = try programFromText(text)
        guard case .loop(_, _, _, _, let body, let uniform) = p.entryKernel.body.stmts.last!.kind,
              case .loop(_, _, _, _, _, let innerUniform) = body.stmts[0].kind else { Issue.record("expected loops"); return }
        #expect(uniform.guards.count == 1 && innerUniform.guards.count == 1)
        let (fast, slow) = try both(p, gpu: "seed-a100", [:])
        #expect(fast == slow)
        // 15 tile rows; row r loads r + 1 tiles; every row and column tile is 7 wide except the last (2).
        #expect(fast.counts.loads == Int64((1...15).reduce(0, +)))
    }

    /// The checker leaves a guard to the run; the run decides it from what is known: a
    /// parameter that settles an `||` or `&&`, and nothing that reads the loop's own variable.
    @Test func guardsAreDecidedWithTheParametersKnown() throws {
        let p = try program("Kernels/stack/sdpa_flash.kern")
        var loops: [(Int, Uniformity)] = []
        IRWalk.inspect(p.entryKernel.body) { n in
            if case .stmt(let s) = n, case .loop(_, let slot, _, _, _, let u) = s.kind { loops.append((slot, u)) }
            return true
        }
        // h, i (grid) and j: i and j each hold the one guard `causal == 0 || j.start < i.end`.
        #expect(loops.count == 3 && loops.allSatisfy(\.1.uniform) && loops.map(\.1.guards.count) == [0, 1, 1])
        let (j, u) = loops[2]
        let interp = try Interpreter(program: p, options: RunOptions(gpu: GPUModel.preset(named: "h100-sxm")!))
        let frame = Interpreter.Frame(kernel: p.entryKernel, overrides: [:], bound: [:])
        let causal = try #require(p.entryKernel.slotNames.firstIndex(of: "causal"))
        frame.values[causal] = .int(0)
        #expect(interp.loopInvariant(u.guards[0], frame, slot: j) == true)
        frame.values[causal] = .int(1)
        #expect(interp.loopInvariant(u.guards[0], frame, slot: j) == nil)
        // A guard that reads a local the body assigns would be decided by a stale value: the
        // checker makes such a loop non-uniform instead.
        let stale = try programFromText("""
        kernel k {
            param N = 64
            input Q[N, N] f16
            for j in tiles(N, 8) {
                t = load Q[j, :]
                if j.start < t.rows {
                    u = load Q[j, :]
                }
            }
        }
        """)
        guard case .loop(_, _, _, _, _, let su) = stale.entryKernel.body.stmts.last!.kind else { Issue.record("expected a loop"); return }
        #expect(!su.uniform && su.guards.isEmpty)
    }

    /// Guards the run cannot settle are skipped through in runs: by bisection when each
    /// comparison is affine in the iteration (a causal diagonal), by reading every iteration
    /// otherwise (`//` here: outcomes change every 8 tiles). Both equal full simulation.
    @Test(arguments: ["j.start < i.end", "(j.start // 64) % 2 == 0 || j.start > i.start + 3 * T"])
    func guardRunsEqualFullSimulation(_ condition: String) throws {
        let text = """
        kernel guarded {
            param N = 700
            param T = 8
            input Q[N, N] f16
            output O[N, 1] f32
            parallel for i in tiles(N, 64) {
                acc = zeros(i.len, 1, f32)
                for j in tiles(N, T) {
                    if \(condition) {
                        t = load Q[i, j]
                        acc += rowsum(t)
                    }
                }
                store acc -> O[i, :]
            }
        }
        """
        let p = try programFromText(text)
        for gpu in ["seed-a100", "h100-sxm"] {
            let (fast, slow) = try both(p, gpu: gpu, [:])
            #expect(fast == slow, "\(gpu)")
            #expect(fast.counts.loads > 0)
        }
    }

    @Test func stateChangesStopFastForward() throws {
        // `acc` grows a column per iteration: the second iteration does not return to the
        // first one's state, so every iteration is simulated.
        let text = """
        kernel growing {
            param N = 40
            input X[N, N] f16
            acc = zeros(1, 1)
            for i in 0 ..< 10 {
                x = load X[0 ..< 1, :]
                acc = zeros(1, acc.cols + 1)
            }
        }
        """
        let (fast, slow) = try both(try programFromText(text), gpu: "seed-a100", [:])
        #expect(fast == slow)
        let expectedPeak: Int64 = 40 + 10 + 11
        #expect(fast.sram.peak_elements == expectedPeak)
    }
}
