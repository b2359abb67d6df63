import Foundation
import Testing
import KernLang
@testable import Simulator

@Suite struct InterpreterTests {
    func runText(_ text: String, gpu: String = "seed-a100", _ params: [String: ParamValue] = [:]) throws -> RunSummary {
        try Interpreter(program: try programFromText(text), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params)).run()
    }

    /// A grid of `blocks` thread blocks of `flops` vector FLOPs each, on a GPU of 2 SMs whose
    /// shared memory holds `perSM` such blocks.
    func grid(blocks: Int, perSM: Int64) throws -> RunSummary {
        var gpu = GPUModel.preset(named: "a100-80gb")!
        gpu.sms = 2
        gpu.sramBytes = perSM * 800   // one block holds two (10 x 10) f32 tiles
        gpu.warpStepTime = nil        // FLOPs alone: blockStepsFloorComputeTime checks the steps
        let text = "kernel g {\n    parallel for b in 0 ..< \(blocks) {\n        a = zeros(10, 10, f32)\n        c = a * 2\n    }\n}\n"
        return try Interpreter(program: try programFromText(text), options: RunOptions(gpu: gpu)).run()
    }

    @Test func gridsRunInWavesAndTheLastWaveLeavesSMsIdle() throws {
        // 2 SMs: 5 blocks take 3 rounds, 6 slots, 1 of them idle.
        let five = try grid(blocks: 5, perSM: 1)
        #expect(five.counts.blocks == 5)
        #expect(five.flops.total == 5 * 100)
        let gpu = GPUModel.preset(named: "a100-80gb")!
        let rate = gpu.vectorFlops * gpu.computeEfficiency
        #expect(abs(five.time.wave_idle! - 100 / rate) < 1e-18)
        #expect(abs(five.time.compute - 600 / rate) < 1e-18)
        // Two blocks fit an SM at once, but they share its throughput: the busiest SM still
        // has 3 blocks' work, so the idle slot is the same 1 block (not 3 of a 4-slot wave).
        let twoPerSM = try grid(blocks: 5, perSM: 2)
        #expect(abs(twoPerSM.time.wave_idle! - 100 / rate) < 1e-18)
        // Full waves leave nothing idle.
        #expect(try grid(blocks: 6, perSM: 1).time.wave_idle == 0)
        // The seed's model has no waves.
        let seed = try runText("kernel g {\n    parallel for b in 0 ..< 5 {\n        a = zeros(10, 10, f32)\n    }\n}\n")
        #expect(seed.time.wave_idle == nil && seed.counts.blocks == nil)
    }

    @Test func aGemmGridReadsItsOperandsOnceThroughL2() throws {
        // 4 x 8 blocks, one wave on 108 SMs: X[i, k] once per block row, W[k, j] once per column.
        let s = try run("Kernels/stack/linear.kern", gpu: "a100-80gb", ["T": .int(256), "K": .int(512), "N": .int(512)])
        let x: Int64 = 256 * 512 * 2, w: Int64 = 512 * 512 * 2, b: Int64 = 512 * 2
        #expect(s.hbm.read_bytes == x + w + b)
        #expect(s.l2!.read_bytes == 8 * x + 4 * w + 4 * b)
        #expect(s.l2!.hit_bytes == s.l2!.read_bytes! - s.hbm.read_bytes)
        // Every store goes through L2; this one's 256 KB output fits, so it is still dirty there
        // when the launch ends (--cache flush): no DRAM writes during it.
        #expect(s.l2!.bytes == s.l2!.read_bytes! + s.l2!.write_bytes!)
        #expect(s.l2!.write_bytes == 256 * 512 * 2 && s.hbm.write_bytes == 0 && s.l2!.dirty_bytes == 256 * 512 * 2)
        #expect(try run("Kernels/stack/linear.kern", gpu: "seed-a100", ["T": .int(256), "K": .int(512), "N": .int(512)]).l2 == nil)
    }

    @Test func warmL2CarriesOneLaunchsOutputToTheNext() throws {
        // Two grids (two launches): the first copies X to Y, the second Y to Z; 512 KB each,
        // far below the 21 MB of L2 an A100 can use for shared data.
        let text = """
        kernel two {
            input X[256, 1024] f16
            scratch Y[256, 1024] f16
            output Z[256, 1024] f16
            parallel for i in tiles(256, 32) {
                x = load X[i, :]
                store x -> Y[i, :]
            }
            parallel for i in tiles(256, 32) {
                y = load Y[i, :]
                store y -> Z[i, :]
            }
        }
        """
        let kb512: Int64 = 256 * 1024 * 2
        func run(_ cache: CacheMode) throws -> RunSummary {
            try Interpreter(program: try programFromText(text), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, cache: cache)).run()
        }
        // flush: each launch starts empty, so both read their input from DRAM, and both outputs
        // are still dirty in L2 when their launch ends.
        let flush = try run(.flush)
        #expect(flush.hbm.read_bytes == 2 * kb512 && flush.hbm.write_bytes == 0 && flush.l2!.dirty_bytes == 2 * kb512)
        // warm: the second launch finds Y in L2; every stored byte is written back by the end.
        let warm = try run(.warm)
        #expect(warm.hbm.read_bytes == kb512 && warm.hbm.write_bytes == 2 * kb512 && warm.l2!.dirty_bytes == 0)
        #expect(warm.l2!.cache == .warm && flush.l2!.cache == .flush)
    }

    @Test func everyLaunchedKernelAddsItsOverhead() throws {
        // A kernel that only launches others is not a GPU kernel itself.
        let text = "kernel inner {\n    input X[8, 8] f16\n    x = load X\n}\nkernel outer {\n    input X[8, 8] f16\n    for l in 0 ..< 7 {\n        run inner(X = X)\n    }\n}\n"
        let s = try Interpreter(program: try programFromText(text), options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!)).run()
        #expect(s.counts.launches == 7)
        #expect(s.time.launch_gaps == 7 * 3e-6)
        // Seven alike memory-bound launches: their own times add up to the run's memory time
        // (each launch's time is counted in whole femtoseconds, so exact to 7 fs).
        // Each launch also takes the preset's fill-and-drain latency.
        let latency = GPUModel.preset(named: "a100-80gb")!.launchLatency!
        #expect(abs(s.time.total - (max(s.time.compute, s.time.memory) + 7 * (3e-6 + latency))) <= 7e-15)
        // All the work is inner's, so its breakdown carries the whole time, overheads included.
        #expect(abs(s.kernels["inner"]!.time_total - s.time.total) < 1e-15)
    }

    @Test func autofreeLowersPeakAgainstScopeFreeing() throws {
        let body = "    a = zeros(100, 10)\n    b = a * 2\n    c = b * 2\n    d = c * 2\n}\n"
        let scoped = try runText("kernel k {\n" + body)
        let auto = try runText("kernel k {\n    autofree\n" + body)
        #expect(scoped.sram.peak_elements == 4000)
        #expect(auto.sram.peak_elements == 2000)
        #expect(scoped.flops.total == auto.flops.total)
        #expect(auto.flops.total == 3000)
    }

    @Test func moveDoesNotCopyAndTemporariesAreFreed() throws {
        let s = try runText("kernel k {\n    m = zeros(10, 1)\n    for j in 0 ..< 3 {\n        mn = exp(m - m)\n        m = mn\n    }\n}\n")
        // Each iteration: temp (m - m) 10 elements + exp result 10; the temp dies after exp.
        #expect(s.sram.peak_elements == 30)
        #expect(s.flops.total == 3 * (10 + 80))
        #expect(s.flops.special == 3 * 80)
    }

    @Test func broadcastingAndReductions() throws {
        let s = try runText("kernel k {\n    S = zeros(4, 8)\n    m = rowmax(S)\n    P = S - m\n    P /= rowsum(P)\n}\n")
        // rowmax 32, sub 32, rowsum 32, divide 8 x 32.
        #expect(s.flops.total == 32 + 32 + 32 + 256)
    }

    /// Three scratch steps of N x N f16 (2 N^2 bytes each) between X and Y: freeing each
    /// scratch once it is read keeps two of them alive at a time, so peak HBM is 4 tensors
    /// (X, Y and two scratch) instead of 5.
    @Test func freeingScratchTensorsLowersPeakHBM() throws {
        let body = { (free: Bool) in
            "kernel k {\n    param N = 64\n    input X[N, N] f16\n    output Y[N, N] f16\n    scratch A[N, N] f16\n"
            + "    a = load X\n    store a -> A\n    scratch B[N, N] f16\n    b = load A\n    store b -> B\n"
            + (free ? "    free A\n" : "") + "    scratch C[N, N] f16\n    c = load B\n    store c -> C\n"
            + (free ? "    free B\n" : "") + "    y = load C\n    store y -> Y\n}\n"
        }
        let tensor: Int64 = 64 * 64 * 2
        #expect(try runText(body(true), gpu: "a100-80gb").hbm.peak_bytes == 4 * tensor)
        #expect(try runText(body(false), gpu: "a100-80gb").hbm.peak_bytes == 5 * tensor)
        // A freed tensor cannot be read again; only scratch tensors can be freed.
        let reuse = "kernel k {\n    param N = 64\n    scratch A[N, N] f16\n    free A\n    a = load A\n}\n"
        do { _ = try runText(reuse); Issue.record("a freed tensor was read") } catch {
            #expect("\(error)".contains("'A' was freed; its HBM is released"))
        }
        let input = "kernel k {\n    param N = 64\n    input X[N, N] f16\n    free X\n}\n"
        do { _ = try runText(input); Issue.record("an input was freed") } catch {
            #expect("\(error)".contains("only scratch tensors can be freed from HBM; 'X' is an input"))
        }
    }

    /// A compute-only grid then a memory-only grid: each launch overlaps only its own work, so
    /// the kernel time is compute + memory, not max(compute, memory) of the whole run; the seed's
    /// presets (no launches) keep composing the run's totals.
    @Test func eachLaunchOverlapsOnlyItsOwnWork() throws {
        let text = """
        kernel k {
            param N = 216
            input X[N, 4096] f16
            output Y[N, 4096] f16
            parallel for b in 0 ..< N {
                a = zeros(128, 128, f16)
                c = a @ a
            }
            parallel for b in 0 ..< N {
                x = load X[b, :]
                store x -> Y[b, :]
            }
        }
        """
        let s = try runText(text, gpu: "h100-sxm")
        // The copy's only compute is its blocks' steps: 216 blocks take 2 rounds of 132 SMs,
        // 264 block slots of one step, 4 warps each, 75 cycles at 1.83 GHz a warp-step.
        let steps = 264.0 * 4 * 75 / 1.83e9 / 132
        #expect(s.phases.count == 2 && s.phases[0].time_memory == 0 && abs(s.phases[1].time_compute - steps) <= 1e-12 * steps)
        let kernel = try #require(s.time.kernel)
        let latency = GPUModel.preset(named: "h100-sxm")!.launchLatency!
        #expect(abs(kernel - (s.time.compute + s.time.memory + 2 * latency)) <= 1e-12 * kernel)
        #expect(abs(s.time.total - (kernel + 3e-6)) <= 1e-12 * kernel)
        let seed = try runText(text, gpu: "seed-a100")
        #expect(seed.time.kernel == nil && seed.time.total == seed.time.compute + seed.time.memory)
    }

    /// Hopper's tensor cores reach their peak only through warpgroup MMA, whose M is 64 rows: a
    /// shorter product, or any product of a kernel built for sm_80 (`target 80`), runs on
    /// `mma.sync` at the preset's warp-level rate. The expected times are FLOPs over the rates
    /// the preset states (2 m n k FLOPs a product, no other work), not today's output.
    @Test func tensorCoreInstructionPathFollowsTileRowsAndTarget() throws {
        func text(rows: Int, target: Int?) -> String {
            """
            kernel k {
                param R = \(rows)
                \(target.map { "target \($0)" } ?? "")
                a = zeros(R, 256, f16)
                b = zeros(256, 128, f16)
                c = a @ b
            }
            """
        }
        let h100 = GPUModel.preset(named: "h100-sxm")!
        let warp = try #require(h100.warpMatmulFlops), eff = h100.computeEfficiency
        func expectTime(_ s: RunSummary, rows: Int, rate: Double) {
            let flops = Double(2 * rows * 256 * 128)
            #expect(s.flops.tensor_core == Int64(flops))
            #expect(abs(s.time.compute - flops / (rate * eff)) <= 1e-12 * s.time.compute, "\(rows) rows at \(rate)")
        }
        expectTime(try runText(text(rows: 64, target: nil), gpu: "h100-sxm"), rows: 64, rate: h100.matmulFlops)
        expectTime(try runText(text(rows: 32, target: nil), gpu: "h100-sxm"), rows: 32, rate: warp)
        expectTime(try runText(text(rows: 128, target: 80), gpu: "h100-sxm"), rows: 128, rate: warp)
        expectTime(try runText(text(rows: 128, target: 90), gpu: "h100-sxm"), rows: 128, rate: h100.matmulFlops)
        // The A100 has one path: mma.sync is its full rate.
        let a100 = GPUModel.preset(named: "a100-80gb")!
        #expect(a100.warpMatmulFlops == nil)
        expectTime(try runText(text(rows: 32, target: 80), gpu: "a100-80gb"), rows: 32, rate: a100.matmulFlops)
        // A launched kernel's target is its own: the caller's products keep the full rate.
        let launched = """
        kernel inner {
            target 80
            a = zeros(128, 256, f16)
            b = zeros(256, 128, f16)
            c = a @ b
        }
        kernel outer {
            run inner()
            a = zeros(128, 256, f16)
            b = zeros(256, 128, f16)
            c = a @ b
        }
        """
        let s = try runText(launched, gpu: "h100-sxm")
        let flops = Double(2 * 128 * 256 * 128)
        #expect(abs(s.time.compute - (flops / (warp * eff) + flops / (h100.matmulFlops * eff))) <= 1e-12 * s.time.compute)
    }

    /// A block steps through its loop: each step (the block's start, each iteration) costs each
    /// of its warps 75 cycles of its SM. 300 blocks of a 40-step loop over tiny tiles on the
    /// H100's 132 SMs: 3 rounds, so the busiest SM runs 3 x 41 steps; 8 warps double them. The
    /// expected times are counted here from the loop nest, not read from a run.
    @Test func blockStepsFloorComputeTime() throws {
        func text(warps: Int?) -> String {
            """
            kernel k {
                \(warps.map { "warps \($0)" } ?? "")
                parallel for b in 0 ..< 300 {
                    acc = zeros(16, 16, f32)
                    for j in 0 ..< 40 {
                        acc *= 2
                    }
                }
            }
            """
        }
        let h100 = GPUModel.preset(named: "h100-sxm")!
        let cycle = 1 / 1.83e9
        for (warps, n) in [(nil, 4.0), (4, 4.0), (8, 8.0)] {
            let s = try runText(text(warps: warps), gpu: "h100-sxm")
            let slots = 3.0 * 132, steps = slots * 41 * n
            #expect(s.counts.warp_steps == Int64(steps))
            let floor = steps * 75 * cycle / 132
            #expect(abs(s.time.block_steps! - floor) <= 1e-12 * floor)
            // 300 x 40 x 256 FLOPs take 0.2 us at the CUDA cores' rate: the steps set compute.
            #expect(Double(s.flops.total) / (h100.vectorFlops * h100.computeEfficiency) < floor / 10)
            #expect(abs(s.time.compute - floor) <= 1e-12 * floor, "\(n) warps")
        }
        // A warps statement must be a whole number of warps a block can have.
        #expect(throws: (any Error).self) { try runText(text(warps: 0), gpu: "h100-sxm") }
        #expect(throws: (any Error).self) { try runText(text(warps: 33), gpu: "h100-sxm") }
        // The seed's presets have no step time.
        #expect(try runText(text(warps: 8)).time.block_steps == nil)
    }

    /// A block's stores after its loop hold its SM's math: 264 blocks (2 rounds of the H100's
    /// 132 SMs) each run an 8-step K loop of 128 x 128 x 64 products and then store a 128 x 128
    /// f16 tile (32 KB); the compute time is the products at the tensor-core rate plus those
    /// 264 x 32 KB at the L2 bandwidth. A block without a loop (a copy) is charged nothing.
    /// Counted here from the loop nest and the preset's stated rates.
    @Test func blockEpiloguesAddToCompute() throws {
        let text = """
        kernel k {
            input X[128, 64] f16
            output Y[33792, 128] f16
            parallel for b in 0 ..< 264 {
                acc = zeros(128, 128, f32)
                for j in 0 ..< 8 {
                    x = load X
                    acc += x @ x.T
                }
                y = cast(acc, f16)
                store y -> Y[b * 128 ..< b * 128 + 128, :]
            }
        }
        """
        let h100 = GPUModel.preset(named: "h100-sxm")!
        let s = try runText(text, gpu: "h100-sxm")
        let epilogue = 264.0 * 128 * 128 * 2
        #expect(s.counts.epilogue_bytes == Int64(epilogue))
        #expect(s.counts.accumulation_bytes == 0)   // accumulated in SRAM, not in global memory
        let products = 264.0 * 8 * 2 * 128 * 128 * 64
        #expect(s.flops.tensor_core == Int64(products))
        let casts = Double(s.flops.total) - products   // the f32 -> f16 cast, on the CUDA cores
        let expected = products / (h100.matmulFlops * h100.computeEfficiency) + casts / (h100.vectorFlops * h100.computeEfficiency)
            + epilogue / h100.l2Bandwidth!
        #expect(abs(s.time.compute - expected) <= 1e-9 * expected, "\(s.time.compute) against \(expected)")
        #expect(abs(s.time.block_epilogues! - epilogue / h100.l2Bandwidth!) <= 1e-12)
        let copy = try runText("kernel c {\n    input X[264, 128] f16\n    output Y[264, 128] f16\n    parallel for b in 0 ..< 264 {\n        x = load X[b, :]\n        store x -> Y[b, :]\n    }\n}\n", gpu: "h100-sxm")
        #expect(copy.counts.epilogue_bytes == 0)
    }

    /// A slice a block loads, updates and stores back inside its loop accumulates in global
    /// memory (FlashAttention-2's dQ, atomics across blocks): 132 blocks x 8 steps each add a
    /// 64 x 64 product into a 64 x 64 f32 slice of A, so 132 x 8 x 2 x 16 KB of read-modify-write
    /// at the L2 bandwidth add to the compute time of the products (an accumulator kept in SRAM
    /// and stored after the loop is an epilogue instead: blockEpiloguesAddToCompute). Counted
    /// from the loop nest.
    @Test func globalAccumulationsHoldTheMath() throws {
        let h100 = GPUModel.preset(named: "h100-sxm")!
        let rmw = try runText("""
        kernel k {
            input X[64, 64] f16
            output A[8448, 64] f32
            parallel for b in 0 ..< 132 {
                for j in 0 ..< 8 {
                    x = load X
                    a = load A[b * 64 ..< b * 64 + 64, :]
                    a += x @ x.T
                    store a -> A[b * 64 ..< b * 64 + 64, :]
                }
            }
        }
        """, gpu: "h100-sxm")
        let accumulated = 132.0 * 8 * 2 * 64 * 64 * 4
        #expect(rmw.counts.accumulation_bytes == Int64(accumulated))
        #expect(abs(rmw.time.global_accumulations! - accumulated / h100.l2Bandwidth!) <= 1e-15)
        let products = 132.0 * 8 * 2 * 64 * 64 * 64
        let expected = products / (h100.matmulFlops * h100.computeEfficiency) + accumulated / h100.l2Bandwidth!
        #expect(abs(rmw.time.compute - expected) <= 1e-9 * expected, "\(rmw.time.compute) against \(expected)")
    }

    /// Row kernels stream at the row-reduction fraction of the HBM peak: 512 blocks each load
    /// a 16 x 4096 f16 tile (128 KB), take its row sums and store it scaled, so all their DRAM
    /// traffic moves at 0.71 x 3.35 TB/s; the same rows scaled without a
    /// reduction stream at 0.88, and so does a block that reduces inside a loop over column
    /// tiles (it loads the next tile behind the reduction). Counted from the loop nest.
    @Test func rowKernelsStreamAtTheRowReductionRate() throws {
        let h100 = GPUModel.preset(named: "h100-sxm")!
        func kernel(_ body: String) -> String {
            "kernel k {\n    input X[8192, 4096] f16\n    output Y[8192, 4096] f16\n    parallel for i in tiles(8192, 16) {\n\(body)    }\n}\n"
        }
        let reduce = try runText(kernel("        x = load X[i, :]\n        x *= rowsum(x)\n        store x -> Y[i, :]\n"), gpu: "h100-sxm")
        let scale = try runText(kernel("        x = load X[i, :]\n        x *= 2\n        store x -> Y[i, :]\n"), gpu: "h100-sxm")
        let looped = try runText(kernel("        for c in tiles(4096, 512) {\n            x = load X[i, c]\n            x *= rowsum(x)\n            store x -> Y[i, c]\n        }\n"), gpu: "h100-sxm")
        // Reads are the compulsory 512 x 128 KB; writes, what L2 did not still hold dirty at the end.
        #expect(reduce.hbm.read_bytes == 512 * 16 * 4096 * 2 && reduce.hbm == scale.hbm)
        let bytes = Double(reduce.hbm.total_bytes)
        #expect(reduce.counts.row_reduction_bytes == reduce.hbm.total_bytes)
        #expect(abs(reduce.time.memory - bytes / (h100.hbmBandwidth * 0.71)) <= 1e-9 * reduce.time.memory)
        #expect(scale.counts.row_reduction_bytes == 0 && looped.counts.row_reduction_bytes == 0)
        #expect(abs(scale.time.memory - bytes / (h100.hbmBandwidth * 0.88)) <= 1e-9 * scale.time.memory)
        #expect(abs(reduce.time.row_reductions! - (reduce.time.memory - scale.time.memory)) <= 1e-12)
        // The seed's presets keep one rate.
        let seed = try runText(kernel("        x = load X[i, :]\n        x *= rowsum(x)\n        store x -> Y[i, :]\n"), gpu: "seed-a100")
        #expect(seed.counts.row_reduction_bytes == nil)
    }

    /// `acc += A @ B` on tensor cores is one MMA: its FLOPs are the product's 2 m n k, with no
    /// addition on top; the seed's presets charge the m n additions (the seed's model).
    @Test func accumulatingProductsAreOneMMA() throws {
        let text = """
        kernel k {
            acc = zeros(64, 32, f32)
            a = zeros(64, 128, f16)
            b = zeros(128, 32, f16)
            acc += a @ b
        }
        """
        #expect(try runText(text, gpu: "h100-sxm").flops.total == 2 * 64 * 128 * 32)
        #expect(try runText(text, gpu: "seed-a100").flops.total == 2 * 64 * 128 * 32 + 64 * 32)
    }

    @Test func subByteDtypesCountExactly() throws {
        let s = try runText("kernel k {\n    param N = 7\n    input W[N, 3] i4\n    w = load W\n}\n", gpu: "a100-80gb")
        #expect(s.hbm.read_bytes == 11)  // 21 four-bit values round up to 11 bytes
        #expect(s.hbm.peak_bytes == 11)
    }

    @Test func realPresetsUseSecondsAndOverlap() throws {
        let s = try run("Kernels/flash_attention.kern", gpu: "a100-80gb", ["N": .int(8192), "d": .int(64)])
        #expect(s.time.unit == .seconds)
        // One GPU kernel: its launch overhead on top of the overlapped compute and memory time.
        #expect(s.time.launch_gaps == 3e-6)
        let gpu = GPUModel.preset(named: "a100-80gb")!
        #expect(abs(s.time.total - (max(s.time.compute, s.time.memory) + gpu.launchLatency! + 3e-6)) < 1e-15)
        // Memory: DRAM bytes at the achievable HBM rate, or L2 traffic at the L2's, the longer.
        let dram = Double(s.hbm.total_bytes) / (gpu.hbmBandwidth * gpu.hbmEfficiency), l2 = Double(s.l2!.bytes!) / gpu.l2Bandwidth!
        #expect(abs(s.time.memory - max(dram, l2)) < 1e-12)
        #expect(s.hbm.read_elements == nil)
        // The largest B with 2 (2 B^2 + 3 B d) + 4 B d <= 164 KB (f16 inputs, f32 accumulator).
        #expect(s.params["Br"] == .int(139))
        let fits = { (b: Int) in 2 * (2 * b * b + 3 * b * 64) + 4 * b * 64 <= 164 * 1024 }
        #expect(fits(139) && !fits(140))
    }

    @Test func hbmCapacityErrorNamesTheTensor() throws {
        #expect {
            _ = try run("Kernels/attention_2d.kern", gpu: "a100-80gb", ["N": .int(1_048_576), "d": .int(128)])
        } throws: { e in
            guard case SimulationError.kernel(let d) = e else { return false }
            return d.message.hasPrefix("'S' [1048576, 1048576] f16 needs 2.20 TB of HBM")
        }
    }

    @Test func unknownOverrideIsAFlagError() throws {
        #expect {
            _ = try run("Kernels/flash_attention.kern", ["Bx": .int(3)])
        } throws: { e in
            "\(e)" == "gpusim: error: --Bx: kernel 'flash_attention' has no parameter 'Bx'; did you mean --Br? (parameters: N, d, dt, acc, usage, a, c, k, Br, Bc, scale)"
        }
    }

    @Test func launchesAndRepeatCompose() throws {
        let text = """
        kernel scale_rows {
            param R = 4
            param C = 8
            input X[R, C] f16
            output Y[R, C] f16
            x = load X
            x *= 2
            store x -> Y
        }
        kernel model {
            param L = 3
            input A[4, 8] f16
            output B[4, 8] f16
            repeat L {
                run scale_rows(X = A, Y = B)
            }
        }
        """
        let s = try runText(text)
        #expect(s.kernel == "model")
        #expect(s.counts.launches == 3)
        #expect(s.hbm.read_elements == Int64(3 * 32))
        #expect(s.hbm.write_elements == Int64(3 * 32))
        #expect(s.hbm.peak_bytes == 2 * 32 * 2)  // only A and B: the launch binds X and Y to them
    }

    @Test func causalSkippingWithConditions() throws {
        let text = """
        kernel k {
            param N = 10
            param T = 3
            input Q[N, N] f16
            for i in tiles(N, T) {
                for j in tiles(N, T) {
                    if j.start <= i.end - 1 {
                        t = load Q[i, j]
                    }
                }
            }
        }
        """
        let s = try runText(text)
        // Tiles on or below the diagonal: rows 0-2 x cols 0-2; 3-5 x 0-5; 6-8 x 0-8; 9 x 0-9.
        let expected: Int64 = 9 + 18 + 27 + 10
        #expect(s.hbm.read_elements == expected)
    }

    @Test func summaryValuesOfTheSeedWalkThrough() throws {
        // The seed's flash attention at its defaults: the largest B with 2 B^2 + 4 B d <= M
        // (M = 131,072 elements, d = 64) is floor((-256 + sqrt(256^2 + 8 M)) / 4) = 199; and
        // compute-bound under the serial model.
        let s = try run("Kernels/flash_attention.kern")
        #expect(s.bound == .compute)
        #expect(s.params["Br"] == .int(199))
    }

    @Test func gpuFileValidation() throws {
        let good = #"{"name": "toy", "sramBytes": 1024, "hbmBandwidth": 100, "matmulFlops": 1000, "flopWeights": {"exp": 4}}"#
        let g = try GPUModel.load(json: Data(good.utf8), path: "toy.json")
        #expect(g.flopWeights["exp"] == 4 && g.flopWeights["add"] == 1)
        func message(_ json: String) -> String {
            do { _ = try GPUModel.load(json: Data(json.utf8), path: "g.json"); return "" } catch { return "\(error)" }
        }
        #expect(message("{") == "gpusim: error: g.json: not a valid GPU description: The given data was not valid JSON.")
        #expect(message(#"{"sramBytes": 1024, "hbmBandwidth": 100}"#) == "gpusim: error: g.json: not a valid GPU description: missing field 'matmulFlops'")
        #expect(message(#"{"sramBytes": -1, "hbmBandwidth": 100, "matmulFlops": 1}"#) == "gpusim: error: g.json: 'sramBytes' must be a positive number, got -1.0")
        #expect(message(#"{"sramBytes": 1, "hbmBandwidth": 100, "matmulFlops": 1, "flopWeights": {"expp": 2}}"#).hasPrefix("gpusim: error: g.json: unknown operation 'expp' in flopWeights"))
    }
}
