import Foundation
import KernLang
import Numerics
import Simulator

/// `gpusim bench`: wall time, events per second and peak memory of the simulator itself, with
/// each fast-forwarded run compared against a full simulation run in the same process.
public struct Benchmark {
    public struct Row: Sendable {
        public var kernel: String
        public var N: Int64
        public var mode: String
        public var runs: Int
        public var medianSeconds: Double
        public var events: Int64
        public var maxRSSBytes: Int64
        /// Full simulation time / this mode's time (nil for the baseline itself).
        public var speedup: Double?
    }

    public var gpu: GPUModel
    public var d: Int64 = 128
    public init(gpu: GPUModel) { self.gpu = gpu }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func maxRSS() -> Int64 {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int64(u.ru_maxrss) * 1024
    }

    func time(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
        var xs: [Double] = []
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            xs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return Self.median(xs)
    }

    /// Runs each kernel at each size: fast-forward (median of `runs`), full simulation up to
    /// `fullUpTo`, and full traces (JSONL and binary) to `traceDir` up to `traceUpTo`.
    public func run(kernels: [(name: String, program: CheckedProgram)], sizes: [Int64], runs: Int,
                    fullUpTo: Int64, traceUpTo: Int64, traceDir: String,
                    progress: (String) -> Void = { _ in }) throws -> [Row] {
        var rows: [Row] = []
        for (name, program) in kernels {
            for N in sizes {
                let options = RunOptions(gpu: gpu, overrides: ["N": .int(N), "d": .int(d)])
                progress("\(name) N=\(N)")
                var baseline: Double?
                if N <= fullUpTo {
                    let fullRuns = N >= fullUpTo / 2 ? 1 : runs
                    let t = try time(fullRuns) {
                        let interp = Interpreter(program: program, options: options)
                        interp.fastForward = false
                        _ = try interp.run()
                    }
                    baseline = t
                    rows.append(Row(kernel: name, N: N, mode: "full simulation", runs: fullRuns, medianSeconds: t, events: 0, maxRSSBytes: Self.maxRSS(), speedup: nil))
                }
                var summary: RunSummary?
                let t = try time(runs) { summary = try Interpreter(program: program, options: options).run() }
                rows.append(Row(kernel: name, N: N, mode: "fast-forward", runs: runs, medianSeconds: t, events: summary.map { $0.counts.loads + $0.counts.stores + $0.counts.computes } ?? 0,
                                maxRSSBytes: Self.maxRSS(), speedup: baseline.map { $0 / t }))
                if N <= traceUpTo {
                    for format in [Runner.TraceFormat.jsonl, .binary] {
                        let path = traceDir + "/gpusim-bench-\(getpid()).\(format == .binary ? "gstrace" : "jsonl")"
                        var events: Int64 = 0
                        let tt = try time(runs) {
                            events = try Runner.run(program, options: options, tracePath: path, traceFormat: format).counts.events
                        }
                        unlink(path)
                        rows.append(Row(kernel: name, N: N, mode: "full \(format == .binary ? "binary" : "JSONL") trace", runs: runs, medianSeconds: tt,
                                        events: events, maxRSSBytes: Self.maxRSS(), speedup: baseline.map { $0 / tt }))
                    }
                }
            }
        }
        return rows
    }
}

/// `gpusim bench numerics`: wall time of numeric runs next to NumPy doing the same attention.
public struct NumericsBenchmark {
    public struct Row: Sendable {
        public var kernel: String
        /// Wall time of each run, in order.
        public var seconds: [Double]
        public var medianSeconds: Double { Benchmark.median(seconds) }
    }

    /// NumPy's side: each run's time, and what it ran on.
    public struct NumPyRun: Sendable {
        public var seconds: [Double]
        public var version: String
        public var blas: String
        public var threads: String
        public var medianSeconds: Double { Benchmark.median(seconds) }
    }

    public init() {}

    /// The machine a figure was measured on: CPU model and cores.
    public static var machine: String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return "\(model), \(cores) core\(cores == 1 ? "" : "s")"
    }

    /// The BLAS gpusim's numeric runs use, and their threads.
    public static var blas: String {
        let threads = NumericOptions().threads
        return "\(LinearAlgebra.blasDescription); blocks of parallel loops on \(threads) thread\(threads == 1 ? "" : "s")"
    }

    /// Min, median and max of the per-run ratios gpusim time / NumPy time (run i against run i).
    public static func ratioSpread(_ ours: [Double], _ numpy: [Double]) -> (min: Double, median: Double, max: Double)? {
        let ratios = zip(ours, numpy).filter { $0.1 > 0 }.map { $0.0 / $0.1 }
        guard let lo = ratios.min(), let hi = ratios.max() else { return nil }
        return (lo, Benchmark.median(ratios), hi)
    }

    public func run(kernels: [(name: String, program: CheckedProgram)], gpu: GPUModel, N: Int64, d: Int64, runs: Int) throws -> [Row] {
        var rows: [Row] = []
        for (name, program) in kernels {
            let options = RunOptions(gpu: gpu, overrides: ["N": .int(N), "d": .int(d), "dt": .dtype("f32")])
            // Inputs are made before the clock starts, as NumPy's are.
            var numeric = NumericOptions()
            for t in try Interpreter(program: program, options: options).resolveTensors() where t.role == .input {
                var rng = SeededRandom(seed: UInt64(numeric.inputs.count + 1))
                numeric.inputs[t.name] = NPY.Array(shape: t.shape.map { Int($0) }, values: (0..<t.shape.reduce(1, *)).map { _ in rng.normal() })
            }
            var xs: [Double] = []
            // One untimed run first (as on NumPy's side): first-touch page faults, BLAS thread start.
            _ = try Runner.runNumeric(program, options: options, numeric: numeric)
            for _ in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try Runner.runNumeric(program, options: options, numeric: numeric)
                xs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            rows.append(Row(kernel: name, seconds: xs))
        }
        return rows
    }

    /// The same computation in NumPy (float32 standard attention), each of `runs` timed, with
    /// NumPy's version, BLAS and thread setting (reported, never changed); nil when python3 with
    /// NumPy is not there.
    public func numpy(N: Int64, d: Int64, runs: Int) -> NumPyRun? {
        let script = """
        import json, os, time, numpy as np
        N, d, runs = \(N), \(d), \(runs)
        rng = np.random.default_rng(0)
        Q, K, V = (rng.standard_normal((N, d), dtype=np.float32) for _ in range(3))
        ts = []
        for i in range(runs + 1):
            t = time.perf_counter()
            S = (Q @ K.T) * np.float32(1 / np.sqrt(d))
            S -= S.max(axis=1, keepdims=True)
            P = np.exp(S)
            P /= P.sum(axis=1, keepdims=True)
            O = P @ V
            if i > 0:
                ts.append(time.perf_counter() - t)
        blas = "unknown BLAS"
        try:
            b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            blas = (b.get("name", "?") + " " + b.get("version", "")).strip()
        except Exception:
            pass
        env = [k + "=" + os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ]
        threads = ", ".join(env) if env else "no thread variable set (the BLAS default, every core)"
        print(json.dumps({"seconds": ts, "version": np.__version__, "blas": blas, "threads": threads}))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        struct Out: Decodable { var seconds: [Double]; var version: String; var blas: String; var threads: String }
        guard let o = try? JSONDecoder().decode(Out.self, from: data), !o.seconds.isEmpty else { return nil }
        return NumPyRun(seconds: o.seconds, version: o.version, blas: o.blas, threads: o.threads)
    }
}
