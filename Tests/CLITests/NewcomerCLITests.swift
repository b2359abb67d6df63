import Foundation
import Testing
import TestSupport

/// What a new user runs into first: names instead of paths, files that are not files, Ctrl-C,
/// typos. Each case is one the issue tracker saw go wrong.
@Suite(.serialized) struct NewcomerCLITests {
    func tmp() throws -> URL { try freshFolder("newcomer") }

    /// Kernels by name from any folder, parameters before the kernel, presets by prefix, a
    /// folder of one's own on GPUSIM_KERNEL_PATH.
    @Test func namesFromAnywhere() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let byName = try gpusim(["run", "flash.kern", "--N", "8192"], cwd: dir)
        #expect(byName.status == 0 && byName.out.hasPrefix("flash_attention on a100-80gb   Bc=139 Br=139 N=8192"))
        let first = try gpusim(["run", "--N", "2048", "--gpu", "h100", "tiled_2d"], cwd: dir)
        #expect(first.status == 0 && first.out.hasPrefix("attention_2d on h100-sxm") && first.out.contains("N=2048"))
        let nested = try gpusim(["run", "stack/rmsnorm", "--T", "64"], cwd: dir)
        #expect(nested.status == 0 && nested.out.hasPrefix("rmsnorm on"))
        let unknown = try gpusim(["run", "flsh"], cwd: dir)
        #expect(unknown.status == 1 && unknown.err == "gpusim: error: cannot open 'flsh': no such file, and no kernel of that name in the library; did you mean 'flash', 'flash2'? (gpusim list shows them)\n")
        try "## Mine.\nkernel mine {\n    param N = 8\n    a = zeros(N, N)\n}\n".write(to: dir.appendingPathComponent("mine.kern"), atomically: true, encoding: .utf8)
        let mine = try gpusim(["run", "mine"], env: ["GPUSIM_KERNEL_PATH": dir.path], cwd: URL(fileURLWithPath: "/"))
        #expect(mine.status == 0 && mine.out.hasPrefix("mine on a100-80gb"))
        let list = try gpusim(["list"], env: ["GPUSIM_KERNEL_PATH": dir.path], cwd: dir)
        #expect(list.out.contains("Kernels in \(dir.path)") && list.out.contains("Kernels in \(packageRoot.path)/Kernels"))
        #expect(list.out.contains("Short names: standard = standard_attention"))
        let version = try gpusim(["--version"])
        #expect(version.status == 0 && version.out.split(separator: ".").count == 3)
    }

    /// A directory, a FIFO and a device where a file belongs: one line and exit 1 from every
    /// command, never a trap (exit 132) or a read that blocks.
    @Test func pathsThatAreNotFiles() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe.kern").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let folder = dir.appendingPathComponent("folder.kern").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out").path
        for bad in [folder, fifo, "/dev/null"] {
            let commands: [[String]] = [
                ["run", bad], ["check", bad], ["fmt", bad], ["graph", bad, "-o", out + ".svg"], ["roofline", bad],
                ["timeline", bad, "-o", out + ".svg"], ["diff", bad, "flash"], ["report", bad, "-o", out + ".html"],
                ["complexity", bad], ["params", bad], ["sweep", bad, "--N", "1,2"], ["trace", "info", bad],
                ["trace", "convert", bad, out + ".jsonl"], ["import", "ncu", bad, "-o", out + ".jsonl"],
                ["import", "torch", bad, "-o", out + ".jsonl"], ["calibrate", bad, "-o", out + ".json"],
                ["run", "flash", "--gpu-file", bad], ["verify", bad, "--against", "flash"],
            ]
            for c in commands {
                let r = try gpusim(c)
                #expect(r.status == 1, "\(c): \(r.status) \(r.err)")
                #expect(r.err.hasPrefix("gpusim: error: ") && !r.err.contains("Fatal error"), "\(c): \(r.err)")
                #expect(r.err.contains("directory") || r.err.contains("FIFO") || r.err.contains("device"), "\(c): \(r.err)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["folder.kern", "pipe.kern"])
    }

    /// Ctrl-C and SIGTERM stop a traced run, remove its temporary file and exit 130 and 143.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signalsLeaveNothingBehind(_ signal: Int32, _ status: Int32) throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = packageRoot.appendingPathComponent(".build/debug/gpusim")
        p.arguments = ["run", "flash", "--N", "1000000", "--trace", dir.appendingPathComponent("big.jsonl").path, "--max-trace-bytes", "1TB"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until the trace is being written (its temporary file exists), then signal.
        let deadline = Date().addingTimeInterval(30)
        while (try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty && Date() < deadline && p.isRunning {
            usleep(20_000)
        }
        #expect(p.isRunning)
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationStatus == status)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func timeoutHoldsWhileTracing() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let started = Date()
        let r = try gpusim(["run", "flash", "--N", "1000000", "--trace", dir.appendingPathComponent("t.jsonl").path, "--timeout", "1", "--max-trace-bytes", "1TB"])
        #expect(r.status == 1 && r.err.contains("--timeout: the run took longer than 1.0 s and was stopped"))
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// One typo is one error, with the right suggestion; a misspelt keyword is named as one.
    @Test func typosDoNotCascade() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flash = try String(contentsOf: packageRoot.appendingPathComponent("Kernels/flash_attention.kern"), encoding: .utf8)
        #expect(flash.contains("Kj = load K[j, :]"))
        let typo = dir.appendingPathComponent("typo.kern")
        try flash.replacingOccurrences(of: "Kj = load K[j, :]", with: "Kjj = load K[j, :]").write(to: typo, atomically: true, encoding: .utf8)
        let r = try gpusim(["check", typo.path])
        #expect(r.status == 1)
        #expect(r.err.components(separatedBy: ": error: ").count == 2)
        #expect(r.err.contains("error: unknown name 'Kj'") && r.err.contains("note: did you mean 'Kjj'?"))
        #expect(r.err.hasSuffix("1 error generated.\n"))
        let lod = dir.appendingPathComponent("lod.kern")
        try "kernel k {\n    param N = 64\n    input Q[N, N] f16\n    output O[N, N] f16\n    for i in tiles(N, 16) {\n        q = lod Q[i, :]\n        store q -> O[i, :]\n    }\n}\n"
            .write(to: lod, atomically: true, encoding: .utf8)
        let l = try gpusim(["check", lod.path])
        #expect(l.err.contains("lod.kern:6:13: error: unknown word 'lod' before 'Q'") && l.err.contains("did you mean the keyword 'load'?"))
        #expect(l.err.hasSuffix("1 error generated.\n"))
    }

    /// A sweep reports every point, and exits 1 naming the ones that failed.
    @Test func sweepWithAFailedPointExits1() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        // At N = 10^7 eager attention's N x N scores need petabytes of HBM: that point fails.
        let r = try gpusim(["sweep", "eager_attention", "--N", "256,10000000", "-o", dir.appendingPathComponent("s").path])
        #expect(r.status == 1)
        #expect(r.out.contains("failed: "))
        #expect(r.err == "gpusim: error: 1 of 2 points failed (N=10000000)\n")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("s.csv").path))
    }

    /// A grid split over machines: the shards' outputs merge into exactly what one run writes.
    @Test func shardedSweepsMergeToTheWholeSweep() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let grid = ["stack/eager_attention", "--gpu", "h100-sxm", "--N", "256,512,1024", "--BH", "1,4"]
        #expect(try gpusim(["sweep"] + grid + ["-o", path("whole")]).status == 0)
        for i in 0..<4 {
            let r = try gpusim(["sweep"] + grid + ["--shard", "\(i)/4", "-o", path("part-\(i)")])
            #expect(r.status == 0 && r.out.contains("shard \(i)/4 of the grid"))
        }
        // Any order of files; the same CSV and JSON, byte for byte.
        let merged = try gpusim(["sweep", "merge", path("part-3.json"), path("part-1.json"), path("part-0.json"), path("part-2.json"), "-o", path("all")])
        #expect(merged.status == 0, "\(merged.err)")
        for ext in ["csv", "json"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: path("all.\(ext)"))) == Data(contentsOf: URL(fileURLWithPath: path("whole.\(ext)"))))
        }
        // A missing shard, a shard twice, or a shard of another grid is refused by name.
        let missing = try gpusim(["sweep", "merge", path("part-0.json"), path("part-1.json")])
        #expect(missing.status == 1 && missing.err == "gpusim: error: 2 of 6 points are in none of the files (first: 2, 3); is a shard missing?\n")
        let twice = try gpusim(["sweep", "merge", path("part-0.json"), path("part-0.json"), path("part-1.json"), path("part-2.json"), path("part-3.json")])
        #expect(twice.status == 1 && twice.err.contains("point 0 (N=256 BH=1) is in more than one file"))
        #expect(try gpusim(["sweep"] + grid + ["--shard", "4/4"]).err.contains("--shard: expected I/N with 0 <= I < N"))
    }
}

/// `gpusim diff` compares like with like unless told otherwise.
@Suite(.serialized) struct DiffMismatchCLITests {
    @Test func unlikeSidesAreRefusedThenNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-diffmismatch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let real = dir.appendingPathComponent("real.jsonl").path, n2048 = dir.appendingPathComponent("n2048.jsonl").path
        #expect(try gpusim(["run", "flash", "--trace", real]).status == 0)
        #expect(try gpusim(["run", "flash", "--gpu", "seed-a100", "--N", "2048", "--d", "128", "--trace", n2048]).status == 0)
        let presets = try gpusim(["diff", "Traces/flash_attention.jsonl", real])
        #expect(presets.status == 2)
        #expect(presets.err == "gpusim: error: the two sides are not comparable: preset seed-a100 vs a100-80gb; time in cycles vs seconds (--allow-mismatch compares them anyway)\n")
        let sizes = try gpusim(["diff", "Traces/flash_attention.jsonl", n2048])
        #expect(sizes.status == 2 && sizes.err.contains("N = 1024 vs 2048; d = 64 vs 128"))
        let allowed = try gpusim(["diff", "Traces/flash_attention.jsonl", real, "--allow-mismatch"])
        #expect(allowed.status == 0)
        #expect(allowed.out.hasPrefix("note: preset seed-a100 vs a100-80gb\nnote: time in cycles vs seconds\n"))
        #expect(allowed.out.contains("cycles") && allowed.out.contains(" us"))
        #expect(!allowed.out.contains("Time: "))   // no headline ratio between unlike units
        // Two algorithms at the same problem size are comparable, whatever tiles they derive.
        #expect(try gpusim(["diff", "flash", "tiled_2d", "--N", "2048"]).status == 0)
        let json = try gpusim(["diff", "Traces/flash_attention.jsonl", real, "--allow-mismatch", "--json"])
        let o = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        #expect((o["differences"] as! [String]).count == 2)
        #expect((o["rows"] as! [[String: Any]]).allSatisfy { ($0["metric"] as! String).allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } })
    }
}

/// The JSONL reader streams: its memory does not grow with the trace's length.
@Suite(.serialized) struct TraceReaderMemoryTests {
    /// Runs the built gpusim to completion; its own peak RSS in bytes (it reports it when
    /// GPUSIM_REPORT_PEAK_RSS is set: a spawned child's rusage would count this test process's
    /// pages too) and exit status.
    func peakRSS(_ args: [String]) throws -> (Int64, Int32) {
        let r = try gpusim(args, env: ["GPUSIM_REPORT_PEAK_RSS": "1"])
        let rss = r.err.split(separator: "\n").last { $0.hasPrefix("gpusim: peak RSS ") }.flatMap { Int64($0.split(separator: " ")[3]) } ?? -1
        return (rss, r.status)
    }

    @Test func aMillionEventJSONLTraceReadsInBoundedMemory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-rss-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("big.jsonl").path
        let run = try gpusim(["run", "flash", "--gpu", "seed-a100", "--N", "26800", "--d", "128", "--trace", trace])
        #expect(run.status == 0)
        let events = try #require(run.out.split(separator: "(").last.flatMap { Int($0.split(separator: " ")[0].replacingOccurrences(of: ",", with: "")) })
        #expect(events >= 1_000_000)
        let size = try #require((try FileManager.default.attributesOfItem(atPath: trace))[.size] as? NSNumber).int64Value
        #expect(size > 150_000_000)   // what splitting the file in memory used to cost, at least
        // Reading every event (trace info) and reading header and summary only (diff) both stay
        // under 100 MB, a fraction of the file.
        let (scan, scanStatus) = try peakRSS(["trace", "info", trace])
        #expect(scanStatus == 0 && scan > 0 && scan < 100_000_000, "trace info: \(scan) bytes")
        let (ends, endsStatus) = try peakRSS(["diff", trace, trace])
        #expect(endsStatus == 0 && ends > 0 && ends < 100_000_000, "diff: \(ends) bytes")
    }
}
