import Foundation
import Testing
import TestSupport


struct Result { let status: Int32; let out: String; let err: String }

/// A new empty folder to run gpusim in (the caller removes it).
func freshFolder(_ label: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// Runs the gpusim that `swift test` built, from the package root, without a terminal.
func gpusim(_ args: [String], env: [String: String] = [:], cwd: URL = packageRoot) throws -> Result {
    let exe = packageRoot.appendingPathComponent(".build/debug/gpusim")
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    p.currentDirectoryURL = cwd
    var environment = ProcessInfo.processInfo.environment
    environment.merge(env) { $1 }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct CLITests {
    @Test func runSucceedsWithoutColourWhenPiped() throws {
        let r = try gpusim(["run", "Kernels/flash_attention.kern", "--N", "2048", "--gpu", "seed-a100"])
        #expect(r.status == 0)
        #expect(r.out.contains("flash_attention on seed-a100"))
        #expect(!r.out.contains("\u{1B}["))
        #expect(r.err.isEmpty)
    }

    @Test func exitStatuses() throws {
        #expect(try gpusim(["check", "Tests/SimulatorTests/Diagnostics/name_unknown_param.kern"]).status == 1)
        #expect(try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "a100"]).status == 2)
        #expect(try gpusim(["frobnicate"]).status == 2)
        #expect(try gpusim(["run"]).status == 2)
        #expect(try gpusim(["--help"]).status == 0)
        #expect(try gpusim(["run", "does/not/exist.kern"]).status == 1)
    }

    @Test func flagErrorsNameTheFlag() throws {
        let unknownParam = try gpusim(["run", "Kernels/flash_attention.kern", "--Bx", "3"])
        #expect(unknownParam.status == 2)
        #expect(unknownParam.err.hasPrefix("gpusim: error: --Bx: kernel 'flash_attention' has no parameter 'Bx'; did you mean --Br?"))
        let preset = try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "a100"])
        #expect(preset.err.contains("--gpu: 'a100' could be any of a100-40gb, a100-80gb; name one"))
        let unknown = try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "b200"])
        #expect(unknown.status == 2 && unknown.err.contains("--gpu: unknown preset 'b200'"))
        // A prefix that names one preset is that preset.
        let prefix = try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "h100"])
        #expect(prefix.status == 0 && prefix.out.contains("flash_attention on h100-sxm"))
        let value = try gpusim(["run", "Kernels/flash_attention.kern", "--N", "lots"])
        #expect(value.err.contains("--N: expected a number, true/false or a dtype, got 'lots'"))
        let missing = try gpusim(["run", "Kernels/flash_attention.kern", "--N"])
        #expect(missing.err.contains("--N needs a value (--N VALUE)"))
    }

    @Test func resourceGuards() throws {
        let events = try gpusim(["run", "Kernels/flash_attention.kern", "--trace", "/dev/null", "--max-events", "50"])
        #expect(events.status == 1)
        #expect(events.err == "gpusim: error: --max-events: the run produced more than 50 events and was stopped\n")
        let timeout = try gpusim(["run", "Kernels/flash_attention_causal.kern", "--N", "262144", "--gpu", "seed-a100", "--timeout", "0.2"])
        #expect(timeout.status == 1)
        #expect(timeout.err == "gpusim: error: --timeout: the run took longer than 0.2 s and was stopped\n")
        let hbm = try gpusim(["run", "Kernels/attention_2d.kern", "--N", "1048576", "--d", "128"])
        #expect(hbm.status == 1)
        #expect(hbm.err.contains("error: 'S' [1048576, 1048576] f16 needs 2.20 TB of HBM with 1.07 GB already allocated, more than a100-80gb's 85.9 GB"))
        // A trace over --max-trace-bytes is refused before anything is written, with its estimate:
        // the seed flash attention trace has 1,331 events (Traces/flash_attention.jsonl), about
        // 170 bytes each as JSONL (226 KB), 16 as binary (21.3 KB).
        let path = NSTemporaryDirectory() + "gpusim-cli-big-\(getpid()).jsonl"
        let big = try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "seed-a100", "--trace", path, "--max-trace-bytes", "100KB"])
        #expect(big.status == 2)
        #expect(big.err == "gpusim: error: --max-trace-bytes: this trace would be about 226 KB (1331 events as jsonl), over the limit of 100 KB; make it smaller with --trace-format binary (about 21.3 KB), --trace-mode summary (header and summary only), smaller sizes, or raise --max-trace-bytes\n")
        #expect(!FileManager.default.fileExists(atPath: path))
        let bad = try gpusim(["run", "Kernels/flash_attention.kern", "--trace", path, "--max-trace-bytes", "lots"])
        #expect(bad.status == 2 && bad.err.contains("--max-trace-bytes: expected a size such as 1000000, 500MB or 2GB, got 'lots'"))
        let detail = try gpusim(["run", "Kernels/flash_attention.kern", "--trace", path, "--trace-detail", "launch"])
        #expect(detail.status == 2 && detail.err.contains("--trace-detail shapes chrome traces; add --trace-format chrome"))
    }

    @Test func modelRunsPrintAPerKernelBreakdown() throws {
        let r = try gpusim(["run", "Kernels/models/tiny_mlp_stack.kern"])
        #expect(r.status == 0)
        #expect(r.out.contains("  Kernels      launches   HBM traffic          FLOPs          time   bound"))
        #expect(r.out.contains("    swiglu_mlp"))
        #expect(!(try gpusim(["run", "Kernels/flash_attention.kern"])).out.contains("Kernels      launches"))
    }

    @Test func failedRunLeavesNoTraceFile() throws {
        let path = NSTemporaryDirectory() + "gpusim-cli-\(getpid()).jsonl"
        let r = try gpusim(["run", "Kernels/attention_1d.kern", "--N", "1024", "--trace", path])
        #expect(r.status == 1)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func jsonOutputs() throws {
        let run = try gpusim(["run", "Kernels/standard_attention.kern", "--gpu", "seed-a100", "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as! [String: Any]
        #expect((summary["hbm"] as! [String: Any])["read_bytes"] as? Int == 24_576 * 2)
        let list = try gpusim(["list", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as! [String: Any]
        #expect((obj["presets"] as! [[String: Any]]).count == 7)
        #expect((obj["kernels"] as! [[String: Any]]).count >= 6)
        let check = try gpusim(["check", "--json", "Tests/SimulatorTests/Diagnostics/shape_matmul.kern", "--run"])
        #expect(check.status == 1)
        let diags = try JSONSerialization.jsonObject(with: Data(check.out.utf8)) as! [[String: String]]
        #expect(diags.first?["message"] == "matmul shapes do not agree: (64 x 64) @ (128 x 64)")
        #expect(diags.first?["line"] == "5")
    }

    @Test func explainTimeShowsTheArithmetic() throws {
        let r = try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "seed-a100", "--explain-time"])
        #expect(r.out.contains("compute = FLOPs / 150 FLOP/cycle; total = compute + memory, serial (the seed's model)"))
        #expect(r.out.contains("whole run: 1.84 MB -> memory 917,504 cycles; 282,863,616 FLOPs -> compute 1,885,757.4 cycles; total 2,803,261.4 cycles, compute-bound"))
        // A real preset adds waves, the launch overhead and the L2's share.
        let real = try gpusim(["run", "Kernels/stack/linear.kern", "--explain-time"])
        #expect(real.out.contains("waves: 32 thread blocks over 108 SMs"))
        #expect(real.out.contains("launches: 1 GPU kernel x 3.00 us launch overhead = 3.00 us, added to the total"))
        // 256 x 512 x 512: X (262 KB) and W (524 KB) from DRAM once, 4.20 MB asked of L2 (X eight
        // times, W four, the bias), and the 262 KB output, which still fits in L2 at the end.
        #expect(real.out.contains("SMs read 4.20 MB, 3.41 MB (81 %) of it L2 hits; wrote 262 KB, 262 KB still dirty in L2 at launch ends (--cache flush); HBM served 787 KB of reads and 0 B of writes"))
        // Those 4.46 MB through L2 at 7.2 TB/s take longer than 787 KB from DRAM at 1.79 TB/s.
        #expect(real.out.contains("whole run: 787 KB DRAM, 4.46 MB through L2 -> memory 0.62 us"))
    }

    @Test func completionScriptsAndHelp() throws {
        let bash = try gpusim(["--generate-completion-script", "bash"])
        #expect(bash.status == 0 && bash.out.contains("_gpusim"))
        let zsh = try gpusim(["--generate-completion-script", "zsh"])
        #expect(zsh.out.contains("#compdef gpusim"))
        let help = try gpusim(["run", "--help"])
        #expect(help.out.contains("gpusim run Kernels/flash_attention.kern --N 8192"))
    }

    @Test func noColorIsHonoured() throws {
        let r = try gpusim(["check", "Tests/SimulatorTests/Diagnostics/name_unknown_param.kern"], env: ["NO_COLOR": "1"])
        #expect(!r.err.contains("\u{1B}["))
        #expect(r.err.hasPrefix("Tests/SimulatorTests/Diagnostics/name_unknown_param.kern:4:23: error: unknown name 'Bx'"))
    }
}

/// Every analysis command on every shipped kernel (small sizes, seed-a100).
@Suite(.serialized) struct EveryCommandTests {
    static let kernels: [String] = {
        let dir = packageRoot.appendingPathComponent("Kernels").path
        return ((FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".kern") }.sorted().map { "Kernels/" + $0 }
    }()

    @Test(arguments: kernels)
    func commandsWork(_ kernel: String) throws {
        let tmp = NSTemporaryDirectory() + "gpusim-every-\(getpid())"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        // Each kernel at its default sizes; whole models (full-size defaults) at small ones.
        let small = ["--gpu", "seed-a100"] + smallSizeFlags(kernel)
        let runs: [[String]] = [
            ["check", kernel],
            ["run", kernel, "--numeric"] + small,
            ["run", kernel, "--trace", tmp + "/t.jsonl"] + small,
            ["run", kernel, "--trace", tmp + "/t.gstrace"] + small,
            ["trace", "convert", tmp + "/t.gstrace", tmp + "/c.jsonl"],
            ["trace", "info", tmp + "/t.gstrace"],
            ["graph", tmp + "/t.gstrace", "-o", tmp + "/gb.svg"],
            ["graph", tmp + "/t.jsonl", "-o", tmp + "/g.svg"],
            ["roofline", tmp + "/t.jsonl", "-o", tmp + "/r.svg"],
            ["timeline", tmp + "/t.jsonl", "-o", tmp + "/tl.svg"],
            ["diff", tmp + "/t.jsonl", "Traces/flash_attention.jsonl", "--allow-mismatch"],
            ["sweep", kernel, "--dt", "f16,f32"] + small,
            ["report", kernel, "-o", tmp + "/r.html"] + small,
            ["fmt", kernel],
        ]
        for args in runs {
            let r = try gpusim(args)
            #expect(r.status == 0, "gpusim \(args.joined(separator: " ")): \(r.err)")
        }
        #expect(FileManager.default.contentsEqual(atPath: tmp + "/t.jsonl", andPath: tmp + "/c.jsonl"))
    }
}

@Suite struct TraceCommandTests {
    @Test func convertAndInfoAndTheirErrors() throws {
        let tmp = NSTemporaryDirectory() + "gpusim-tracecmd-\(getpid())"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        #expect(try gpusim(["run", "Kernels/flash_attention.kern", "--gpu", "seed-a100", "--trace", tmp + "/f.gstrace"]).status == 0)
        let info = try gpusim(["trace", "info", tmp + "/f.gstrace"])
        #expect(info.out.contains("binary trace"))
        // Traces/flash_attention.jsonl holds the same run: 1,331 events (the last the end of the run).
        #expect(info.out.contains("Events       1,331 in the file; the run modelled loads 78, stores 6, computes 744"))
        let chrome = try gpusim(["trace", "convert", tmp + "/f.gstrace", tmp + "/f.json", "--to", "chrome"])
        #expect(chrome.status == 0 && chrome.out == tmp + "/f.json: 1,331 events, chrome\n")
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp + "/f.json"))) as? [String: Any]
        #expect((parsed?["traceEvents"] as? [Any])?.isEmpty == false)
        // Back to binary from JSONL: the same bytes as the original.
        #expect(try gpusim(["trace", "convert", tmp + "/f.gstrace", tmp + "/f.jsonl"]).status == 0)
        #expect(try gpusim(["trace", "convert", tmp + "/f.jsonl", tmp + "/g.gstrace"]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: tmp + "/f.gstrace", andPath: tmp + "/g.gstrace"))

        let same = try gpusim(["trace", "convert", tmp + "/f.gstrace", tmp + "/f.gstrace"])
        #expect(same.status == 2 && same.err.contains("would overwrite the input"))
        let to = try gpusim(["trace", "convert", tmp + "/f.gstrace", tmp + "/x", "--to", "xml"])
        #expect(to.status == 2 && to.err.contains("--to: expected jsonl, binary or chrome, got 'xml'"))
        let notTrace = try gpusim(["trace", "convert", "Kernels/flash_attention.kern", tmp + "/x.jsonl"])
        #expect(notTrace.status == 1 && notTrace.err == "gpusim: error: 'Kernels/flash_attention.kern' is not a gpusim trace (JSONL or binary)\n")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tmp + "/f.gstrace"))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: tmp + "/cut.gstrace"))
        let unwritable = try gpusim(["trace", "convert", tmp + "/f.gstrace", tmp + "/no/such/dir/x.jsonl"])
        #expect(unwritable.status == 1 && unwritable.err.hasPrefix("gpusim: error: cannot write '\(tmp)/no/such/dir/x.jsonl'"))
        let cut = try gpusim(["trace", "convert", tmp + "/cut.gstrace", tmp + "/cut.jsonl"])
        #expect(cut.status == 1 && cut.err.contains("is truncated"))
        #expect(!FileManager.default.fileExists(atPath: tmp + "/cut.jsonl"))
    }
}

@Suite(.serialized) struct BenchCLITests {
    @Test func benchPrintsRatiosAgainstFullSimulation() throws {
        let r = try gpusim(["bench", "--N", "2048", "--runs", "1", "--gpu", "seed-a100", "--kernels", "Kernels/flash_attention.kern", "--json"])
        #expect(r.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: String]]
        #expect(rows.map { $0["mode"]! } == ["full simulation", "fast-forward", "full JSONL trace", "full binary trace"])
        #expect(Double(rows[1]["speedup_vs_full"]!)! > 1)
    }

    /// The numerics benchmark says what it ran on (so a figure can be reproduced) and gives
    /// each run's time; the ratio's spread is over runs paired in order.
    @Test func benchNumericsNamesTheMachine() throws {
        let r = try gpusim(["bench", "numerics", "--N", "256", "--runs", "2", "--json"])
        #expect(r.status == 0)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect((o["machine"] as? String)?.contains("core") == true)
        #expect((o["gpusim_blas"] as? String)?.contains("OpenBLAS") == true)
        let rows = try #require(o["rows"] as? [[String: Any]])
        #expect(rows.count == 2 && rows.allSatisfy { ($0["seconds"] as? [Double])?.count == 2 })
    }
}
