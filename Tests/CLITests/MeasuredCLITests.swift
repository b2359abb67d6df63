import Foundation
import Testing
import TestSupport

/// The public H100 set beside the checkout, as CI lays it out.
let ncuDir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/h100/ncu").path

@Suite(.serialized) struct MeasuredCLITests {
    func tmp() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-cli-measured-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The README's walk: import what ncu printed, then diff the simulation against it.
    @Test func importThenDiffEagerAttention() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imported = try gpusim(["import", "ncu", ncuDir + "/standard_1024_64_16_fw.csv", "-o", dir + "/eager.gstrace", "--gpu", "h100-sxm"])
        #expect(imported.status == 0)
        #expect(imported.out.contains("4 launches from Nsight Compute, DRAM 144 MB, L2 340 MB, time 83.10 us"))
        let info = try gpusim(["trace", "info", dir + "/eager.gstrace"])
        #expect(info.out.contains("Measured     with Nsight Compute"))
        #expect(info.out.contains("FLOPs unknown, SRAM unknown"))

        let d = try gpusim(["diff", "Kernels/stack/eager_attention.kern", dir + "/eager.gstrace", "--N", "1024", "--d", "64", "--BH", "16"])
        #expect(d.status == 0, "\(d.err)")
        let lines = d.out.split(separator: "\n").map(String.init)
        // Four pairs, each a figures line and the two sides' names; the measured GEMM first.
        #expect(lines.filter { $0.hasPrefix("      B: ") && $0.contains("[launch ") }.count == 4)
        #expect(lines.contains { $0.hasPrefix("      B: nvjet_sm90_hsh_128x256_64x4_2x1_v_bz_coopA_TNN [launch 1]") })
        #expect(lines.contains { $0.contains("softmax_warp_forward") && $0.hasSuffix("[launch 3]") })
        #expect(lines.contains { $0.hasPrefix("total ") && $0.contains("144 MB") && $0.contains("83.10 us") })
        #expect(d.out.contains("on h100-sxm"))   // the simulation ran on the measured GPU
        #expect(d.out.contains("largest time misses: #"))
        #expect(!d.out.contains("unpaired"))

        let j = try gpusim(["diff", "Kernels/stack/eager_attention.kern", dir + "/eager.gstrace", "--json"])
        let o = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as! [String: Any]
        let pairs = o["pairs"] as! [[String: Any]]
        #expect(pairs.count == 4)
        #expect((pairs[0]["measured"] as! [String: Any])["dram_bytes"] as? Int == 4_218_880 + 10_847_744)
        #expect(pairs.allSatisfy { $0["time_error"] is Double && $0["dram_error"] is Double && $0["l2_error"] is Double })
    }

    /// A simulation with fewer launches than the measurement lists the rest as unpaired.
    @Test func unpairedLaunchesAreListed() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try gpusim(["import", "ncu", ncuDir + "/standard_1024_64_16_fw.csv", "-o", dir + "/eager.jsonl"])
        let d = try gpusim(["diff", "Kernels/stack/sdpa_flash.kern", dir + "/eager.jsonl", "--gpu", "h100-sxm", "--N", "1024"])
        #expect(d.status == 0)
        #expect(d.out.contains("(no simulated launch)"))
        #expect(d.out.contains("unpaired: 0 simulated and 3 measured launches have no partner"))
    }

    @Test func readersSayWhatAMeasuredTraceLacks() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try gpusim(["import", "ncu", ncuDir + "/flash_2048_64_16_fw.csv", "-o", dir + "/f.gstrace"])
        let roofline = try gpusim(["roofline", dir + "/f.gstrace"])
        #expect(roofline.status == 1 && roofline.err.contains("is a measured trace without FLOP counts"))
        let graph = try gpusim(["graph", dir + "/f.gstrace", "-o", dir + "/g.svg"])
        #expect(graph.status == 1 && graph.err.contains("no dataflow to draw"))
        let timeline = try gpusim(["timeline", dir + "/f.gstrace", "-o", dir + "/t.svg"])
        #expect(timeline.status == 0 && timeline.out.contains("SRAM unknown"))
        #expect(try String(contentsOfFile: dir + "/t.svg", encoding: .utf8).contains("unknown: not measured"))
        let chrome = try gpusim(["trace", "convert", dir + "/f.gstrace", dir + "/f.json", "--to", "chrome"])
        #expect(chrome.status == 0)
        #expect(try String(contentsOfFile: dir + "/f.json", encoding: .utf8).contains("flash_fwd_kernel"))
    }

    @Test func importErrorsAreOneLine() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "\"ID\",\"Kernel Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n\"0\",\"k\",\"dram__bytes_read.sum\",\"byte\",\"1\"\n".write(toFile: dir + "/m.csv", atomically: true, encoding: .utf8)
        let missing = try gpusim(["import", "ncu", dir + "/m.csv", "-o", dir + "/m.jsonl"])
        #expect(missing.status == 1)
        #expect(missing.err.hasPrefix("gpusim: error: '\(dir)/m.csv' lacks the metrics dram__bytes_write.sum, gpu__time_duration.sum"))
        #expect(missing.err.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.jsonl"))
        try #"{"traceEvents": []}"#.write(toFile: dir + "/t.json", atomically: true, encoding: .utf8)
        let torch = try gpusim(["import", "torch", dir + "/t.json", "-o", dir + "/t.jsonl"])
        #expect(torch.status == 1 && torch.err.contains("has no GPU kernel events"))
        let directory = try gpusim(["import", "ncu", dir, "-o", dir + "/x.jsonl"])
        #expect(directory.status == 1 && directory.err.contains("is a directory"))
    }

    /// calibrate writes a --gpu-file that runs, and prints the parameters it moved.
    @Test func calibrateWritesAGPUFile() throws {
        let dir = try tmp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func entry(_ name: String, _ csv: String, _ kernel: String, _ params: [String: Int]) -> [String: Any] {
            ["name": name, "measured": ncuDir + "/" + csv, "kernel": packageRoot.path + "/Kernels/stack/\(kernel).kern", "params": params]
        }
        let manifest: [String: Any] = ["gpu": "h100-sxm",
            "fit": [entry("eager 1024", "standard_1024_64_16_fw.csv", "eager_attention", ["N": 1024]),
                    entry("flash 2048", "flash_2048_64_16_fw.csv", "sdpa_flash", ["N": 2048])],
            "held_out": [entry("flash 8192", "flash_8192_64_16_fw.csv", "sdpa_flash", ["N": 8192])]]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: dir + "/m.json"))
        let r = try gpusim(["calibrate", dir + "/m.json", "-o", dir + "/fitted.json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("calibrating h100-sxm on 2 workloads (1 held out)"))
        #expect(r.out.contains("computeEfficiency  0.800 -> "))
        #expect(r.out.contains("held out median |time error|: "))
        let run = try gpusim(["run", "Kernels/stack/sdpa_flash.kern", "--gpu-file", dir + "/fitted.json"])
        #expect(run.status == 0 && run.out.contains("sdpa_flash on h100-sxm-calibrated"))
        try JSONSerialization.data(withJSONObject: ["fit": [entry("one", "flash_2048_64_16_fw.csv", "sdpa_flash", [:])]]).write(to: URL(fileURLWithPath: dir + "/one.json"))
        let few = try gpusim(["calibrate", dir + "/one.json", "-o", dir + "/x.json", "--gpu", "h100-sxm"])
        #expect(few.status == 1 && few.err.contains("needs at least 2 fitted workloads"))
    }
}

@Suite(.serialized) struct CounterValidationCLITests {
    /// Every public H100 workload that a shipped kernel models, against its counters.
    @Test func validateOnH100PrintsTheMeasuredTable() throws {
        let r = try gpusim(["validate", "--gpu", "h100-sxm", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: Any]]
        let measured = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ncuDir + "/../measurements.json"))) as! [String: [String: Any]]
        // Every workload has a kernel that models it.
        #expect(rows.count == measured.count)
        for row in rows {
            let m = try #require(measured[row["workload"] as! String])
            #expect(row["measured_dram_bytes"] as? Int == (m["dram_read_bytes"] as! Int) + (m["dram_write_bytes"] as! Int))
            #expect(abs((row["measured_seconds"] as! Double) - Double(m["kernel_time_ns"] as! Int) * 1e-9) < 1e-15)
        }
        // A prediction is what a run of that kernel says.
        let gemm = try #require(rows.first { $0["workload"] as? String == "gemm_4096" })
        #expect(gemm["kernel"] as? String == "stack/matmul")
        // With the output tile the measured cuBLAS kernel used: nvjet_sm90_hsh_256x128_... in its ncu file.
        let run = try gpusim(["run", "stack/matmul", "--gpu", "h100-sxm", "--T", "4096", "--K", "4096", "--N", "4096", "--BM", "256", "--BN", "128", "--json"])
        let s = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as! [String: Any]
        let hbm = s["hbm"] as! [String: Any]
        #expect(gemm["predicted_dram_bytes"] as? Int == (hbm["read_bytes"] as! Int) + (hbm["write_bytes"] as! Int))
        #expect(gemm["predicted_seconds"] as? Double == (s["time"] as! [String: Any])["kernel"] as? Double)
        let text = try gpusim(["validate", "--gpu", "h100-sxm"])
        #expect(!text.out.contains("not modelled"))
        #expect(text.out.contains("median |error| over \(rows.count) workloads: DRAM bytes"))
    }
}
