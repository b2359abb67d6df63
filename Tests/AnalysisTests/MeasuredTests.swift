import Analysis
import Foundation
import KernLang
import Simulator
import Testing
import TestSupport

/// The public H100 calibration set beside the checkout (../shared/reference/h100), as CI lays it out.
let h100Reference = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/h100")

struct Measurement: Decodable {
    var ncu_file: String
    var dram_read_bytes: Int64
    var dram_write_bytes: Int64
    var l2_bytes: Int64
    var kernel_time_ns: Int64
    var kernels: Int?
}

func measurements() throws -> [String: Measurement] {
    try JSONDecoder().decode([String: Measurement].self, from: Data(contentsOf: h100Reference.appendingPathComponent("measurements.json")))
}

func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpusim-measured-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct NsightImportTests {
    /// measurements.json was summed from the same CSVs by the people who measured them; the
    /// importer must reproduce every sum exactly.
    @Test func everyPublicFileSumsToItsMeasurement() throws {
        let all = try measurements()
        #expect(all.count >= 29)
        let files = try FileManager.default.contentsOfDirectory(atPath: h100Reference.appendingPathComponent("ncu").path).filter { $0.hasSuffix(".csv") }
        #expect(Set(files.map { "ncu/" + $0 }) == Set(all.values.map(\.ncu_file)))
        for (name, m) in all {
            let run = try NsightCSV.read(h100Reference.appendingPathComponent(m.ncu_file).path)
            let s = run.summary(gpu: nil)
            #expect(s.hbm.read_bytes == m.dram_read_bytes, "\(name)")
            #expect(s.hbm.write_bytes == m.dram_write_bytes, "\(name)")
            #expect(s.l2?.bytes == m.l2_bytes, "\(name)")
            #expect(Int64((s.time.total * 1e9).rounded()) == m.kernel_time_ns, "\(name)")
            if let k = m.kernels { #expect(run.launches.count == k, "\(name)") }
            #expect(s.measured?.unknown.contains("flops") == true && s.knows("hbm") && s.knows("l2"))
        }
    }

    @Test func launchesKeepNamesAndGeometryInOrder() throws {
        let run = try NsightCSV.read(h100Reference.appendingPathComponent("ncu/standard_1024_64_16_fw.csv").path)
        #expect(run.launches.count == 4)
        #expect(run.launches[0].name == "nvjet_sm90_hsh_128x256_64x4_2x1_v_bz_coopA_TNN")
        #expect(run.launches[0].grid == [2, 66, 1] && run.launches[0].block == [384, 1, 1])
        #expect(run.launches[2].name.contains("softmax_warp_forward"))
        #expect(run.launches[2].block == [32, 4, 1])
        // The first launch's rows of the file: 4,218,880 read, 10,847,744 written, 14,400 ns.
        #expect(run.launches[0].dramReadBytes == 4_218_880 && run.launches[0].dramWriteBytes == 10_847_744)
        #expect(abs(run.launches[0].seconds - 14.4e-6) < 1e-15)
    }

    /// The same launches printed as `--page raw` (one row per launch, a units row, no
    /// --print-units base) read back to the same figures.
    @Test func wideFormWithScaledUnits() throws {
        let long = try NsightCSV.read(h100Reference.appendingPathComponent("ncu/standard_1024_64_16_fw.csv").path)
        var csv = "\"ID\",\"Process ID\",\"Kernel Name\",\"Block Size\",\"Grid Size\",\"Device\",\"dram__bytes_read.sum\",\"dram__bytes_write.sum\",\"gpu__time_duration.sum\",\"lts__t_bytes.sum\"\n"
        csv += "\"\",\"\",\"\",\"\",\"\",\"\",\"Kbyte\",\"byte\",\"usecond\",\"Mbyte\"\n"
        for (i, l) in long.launches.enumerated() {
            let name = l.name.replacingOccurrences(of: "\"", with: "\"\"")
            csv += "\"\(i)\",\"4242\",\"\(name)\",\"(\(l.block.map(String.init).joined(separator: ", ")))\",\"(\(l.grid.map(String.init).joined(separator: ", ")))\",\"NVIDIA H100 80GB HBM3\","
            csv += "\"\(Double(l.dramReadBytes!) / 1e3)\",\"\(l.dramWriteBytes!.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))))\","
            csv += "\"\(l.seconds * 1e6)\",\"\(Double(l.l2Bytes!) / 1e6)\"\n"
        }
        let wide = try NsightCSV.parse(csv, file: "wide.csv")
        #expect(wide.device == "NVIDIA H100 80GB HBM3")
        #expect(wide.launches.map(\.name) == long.launches.map(\.name))
        #expect(wide.launches.map(\.dramReadBytes) == long.launches.map(\.dramReadBytes))
        #expect(wide.launches.map(\.dramWriteBytes) == long.launches.map(\.dramWriteBytes))
        #expect(wide.launches.map(\.l2Bytes) == long.launches.map(\.l2Bytes))
        #expect(zip(wide.launches, long.launches).allSatisfy { abs($0.seconds - $1.seconds) < 1e-12 })
    }

    @Test func badInputIsOneClearLine() throws {
        func failure(_ csv: String) -> String {
            do { _ = try NsightCSV.parse(csv, file: "x.csv"); return "" } catch { return error.description }
        }
        // ncu's details page without --metrics: sections of human-readable metrics.
        let details = "\"ID\",\"Kernel Name\",\"Section Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n\"0\",\"k\",\"GPU Speed Of Light\",\"DRAM Throughput\",\"%\",\"85.2\"\n"
        #expect(failure(details).contains("lacks the metrics dram__bytes_read.sum, dram__bytes_write.sum, gpu__time_duration.sum (it has DRAM Throughput)"))
        let noDuration = "\"ID\",\"Kernel Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n\"0\",\"k\",\"dram__bytes_read.sum\",\"byte\",\"1\"\n\"0\",\"k\",\"dram__bytes_write.sum\",\"byte\",\"1\"\n"
        #expect(failure(noDuration).contains("lacks the metric gpu__time_duration.sum"))
        let badUnit = "\"ID\",\"Kernel Name\",\"Metric Name\",\"Metric Unit\",\"Metric Value\"\n\"0\",\"k\",\"dram__bytes_read.sum\",\"%\",\"1\"\n"
        #expect(failure(badUnit).contains("x.csv: row 2: unit '%' is not a byte unit"))
        #expect(failure("\"Session\",\"Value\"\n\"a\",\"b\"\n").contains("is not ncu --csv output"))
        #expect(failure("").contains("is empty"))
        #expect(failure("\"ID\",\"Kernel Name\",\"Metric Name\",\"Metric Value\n").contains("ends inside a quoted field"))
        do { _ = try NsightCSV.read(packageRoot.path); Issue.record("a directory was read") } catch {
            #expect(error.description.contains("is a directory"))
        }
    }

    /// Written as binary and as JSON Lines, the measured trace reads back with the same launches,
    /// and the binary one converts to the JSONL bytes.
    @Test func measuredTracesRoundTrip() throws {
        let run = try NsightCSV.read(h100Reference.appendingPathComponent("ncu/standard_1024_64_16_fw.csv").path)
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gpu = GPUModel.preset(named: "h100-sxm")!
        let bin = dir.appendingPathComponent("m.gstrace").path, jsonl = dir.appendingPathComponent("m.jsonl").path
        try run.write(to: bin, format: .binary, gpu: gpu)
        try run.write(to: jsonl, format: .jsonl, gpu: gpu)
        for path in [bin, jsonl] {
            let events = EventCollector()
            let t = try TraceReader.read(path, into: events)
            #expect(t.header.source == "measured" && t.header.tool == "Nsight Compute" && t.gpu?.name == "h100-sxm")
            #expect(t.summary.measured?.tool == "Nsight Compute")
            #expect(t.summary.hbm.read_bytes == 107_035_648 && t.summary.l2?.bytes == 340_193_376)
            #expect(events.events.map(\.dramWriteBytes) == run.launches.map { $0.dramWriteBytes! })
            #expect(try MeasuredRun.load(path).launches.map(\.name) == run.launches.map(\.name))
        }
        // What a measured trace lacks stays out of its JSON (shown as unknown, never as 0).
        let last = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n").last!
        #expect(!last.contains("\"flops\":{") && !last.contains("\"sram\":{") && last.contains("\"unknown\":[\"flops\",\"sram\""))
        // Binary -> JSONL gives the JSONL importer's bytes.
        let converted = dir.appendingPathComponent("c.jsonl").path
        var writer: TraceWriter?
        let t = try TraceReader.read(bin) { header throws(TraceReader.Failure) in
            writer = try? Runner.TraceFormat.jsonl.writer(path: converted, header: header)
            return writer
        }
        try writer?.finish(summary: t.summary)
        #expect(try Data(contentsOf: URL(fileURLWithPath: converted)) == Data(contentsOf: URL(fileURLWithPath: jsonl)))
    }
}

@Suite struct TorchImportTests {
    /// A profiler trace in the format export_chrome_trace documents: CPU ops, a memcpy and three
    /// kernels, listed out of order in the file.
    static let fixture = """
    {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],
     "traceEvents": [
      {"ph": "X", "cat": "cpu_op", "name": "aten::matmul", "pid": 1, "tid": 1, "ts": 100.0, "dur": 50.0},
      {"ph": "X", "cat": "kernel", "name": "softmax_warp_forward", "pid": 0, "tid": 7, "ts": 180.5, "dur": 32.25,
       "args": {"device": 0, "stream": 7, "grid": [4096, 1, 1], "block": [32, 4, 1]}},
      {"ph": "X", "cat": "kernel", "name": "nvjet_sm90_hsh_128x256", "pid": 0, "tid": 7, "ts": 120.0, "dur": 14.5,
       "args": {"device": 0, "stream": 7, "grid": [2, 66, 1], "block": [384, 1, 1]}},
      {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD", "pid": 0, "tid": 7, "ts": 90.0, "dur": 3.0},
      {"ph": "X", "cat": "kernel", "name": "vectorized_elementwise_kernel", "pid": 0, "tid": 7, "ts": 140.0, "dur": 20.0,
       "args": {"device": 0, "stream": 7, "grid": [16384, 1, 1], "block": [128, 1, 1]}}
     ]}
    """

    @Test func kernelsInStartOrder() throws {
        let run = try TorchProfile.parse(Data(Self.fixture.utf8), file: "t.json")
        #expect(run.launches.map(\.name) == ["nvjet_sm90_hsh_128x256", "vectorized_elementwise_kernel", "softmax_warp_forward"])
        #expect(run.launches[0].grid == [2, 66, 1] && run.launches[2].block == [32, 4, 1])
        #expect(abs(run.kernelSeconds - (14.5 + 20 + 32.25) * 1e-6) < 1e-15)
        #expect(run.device == "NVIDIA H100 80GB HBM3")
        let s = run.summary(gpu: nil)
        #expect(!s.knows("hbm") && !s.knows("l2") && !s.knows("flops"))
        #expect(run.dramBytes == nil)
    }

    @Test func withoutKernelsItSaysSo() throws {
        let json = #"{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::add", "ts": 1, "dur": 2}]}"#
        do { _ = try TorchProfile.parse(Data(json.utf8), file: "cpu.json"); Issue.record("accepted") } catch {
            #expect(error.description.contains("has no GPU kernel events"))
        }
        do { _ = try TorchProfile.parse(Data("not json".utf8), file: "x.json"); Issue.record("accepted") } catch {
            #expect(error.description.contains("is not JSON"))
        }
    }
}

@Suite struct LaunchDiffTests {
    /// A phase that stands for three launches takes the next three measured ones; a measured
    /// launch left over is listed alone.
    @Test func groupsAndUnpaired() {
        let sim = [LaunchFigures(label: "a", launches: 1, dram_bytes: 100, l2_bytes: nil, seconds: 2),
                   LaunchFigures(label: "b", launches: 3, dram_bytes: 300, l2_bytes: nil, seconds: 3)]
        let meas = (1...5).map { LaunchFigures(label: "k\($0)", dram_bytes: 100, l2_bytes: 50, seconds: 1) }
        let d = LaunchDiff(simulated: sim, measured: meas, labels: ("s", "m"))
        #expect(d.pairs.count == 3)
        #expect(d.pairs[0].measured_launches == "1" && d.pairs[0].time_error == 1.0)
        #expect(d.pairs[1].measured_launches == "2-4" && d.pairs[1].measured?.seconds == 3 && d.pairs[1].time_error == 0)
        #expect(d.pairs[1].dram_error == 0 && d.pairs[1].l2_error == nil)
        #expect(d.pairs[2].simulated == nil && d.pairs[2].measured?.label == "k5")
        #expect(!d.allPaired)
        #expect(d.largest_time_misses == [0, 1])
        #expect(d.total.dram_error == (400.0 - 500.0) / 500.0)
    }
}

@Suite struct SimulatedLaunchTests {
    static let gpu = GPUModel.preset(named: "h100-sxm")!

    func launches(_ kernel: String, _ params: [String: ParamValue] = [:]) throws -> (RunSummary, [LaunchFigures]) {
        let s = try Runner.run(program(kernel), options: RunOptions(gpu: Self.gpu, overrides: params))
        return (s, LaunchFigures.simulated(s, source: try readRelative(kernel)))
    }

    /// Four top-level grids are four launches, named by the comments above them; their times
    /// and bytes add up to the run's (the entry's one launch overhead aside).
    @Test func gridsAreLaunches() throws {
        let (s, l) = try launches("Kernels/stack/eager_attention.kern")
        // Each label is the comment above its grid, with the grid's line (the one after it).
        let source = try readRelative("Kernels/stack/eager_attention.kern")
        let lines: [String] = String(decoding: source.bytes, as: UTF8.self).components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func label(_ comment: String) -> String {
            let index: Int = lines.firstIndex(of: "# " + comment)!
            return "\(comment) (line \(index + 2))"
        }
        #expect(l.map(\.label) == ["S = Q K^T", "S * scale", "P = softmax(S) over rows", "O = P V"].map(label))
        #expect(l.reduce(0) { $0 + $1.dram_bytes! } == s.hbm.total_bytes)
        #expect(l.reduce(0) { $0 + $1.l2_bytes! } == s.l2!.bytes!)
        // The run's kernel time is the sum of its launches' own times.
        let kernel = try #require(s.time.kernel)
        #expect(abs(l.reduce(0) { $0 + $1.seconds! } - kernel) <= 1e-12 * kernel)
    }

    /// A GPU kernel without grids (statements and a sequential loop) is one launch.
    @Test func aKernelWithoutGridsIsOneLaunch() throws {
        // residual_add is one sequential loop over row tiles, no `parallel` grid.
        let (s, l) = try launches("Kernels/stack/residual_add.kern")
        #expect(l.count == 1 && l[0].launches == 1)
        #expect(l[0].dram_bytes == s.hbm.total_bytes)
    }

    /// A model's `run` statements: as many launches as it ran.
    @Test func modelLaunchesCount() throws {
        let (s, l) = try launches("Kernels/models/tiny_mlp_stack.kern", ["T": .int(24), "L": .int(2)])
        #expect(l.reduce(0) { $0 + $1.launches } == Int(s.counts.launches))
    }
}

@Suite struct CalibrationTests {
    static let gpu = GPUModel.preset(named: "h100-sxm")!

    func manifest(fit: [String], heldOut: [String]) throws -> URL {
        let kernels: [String: (String, [String: Int64])] = [
            "standard 1024 64 16 fw": ("eager_attention", ["N": 1024, "d": 64, "BH": 16]),
            "standard 4096 64 16 fw": ("eager_attention", ["N": 4096, "d": 64, "BH": 16]),
            "standard 8192 128 16 fw": ("eager_attention", ["N": 8192, "d": 128, "BH": 16]),
            "flash 2048 64 16 fw": ("sdpa_flash", ["N": 2048, "d": 64, "BH": 16]),
            "flash 8192 64 16 fw": ("sdpa_flash", ["N": 8192, "d": 64, "BH": 16]),
            "flash 2048 128 16 fw": ("sdpa_flash", ["N": 2048, "d": 128, "BH": 16, "Bc": 64]),
            "triton 64 64 2048 64 16": ("sdpa_flash", ["N": 2048, "d": 64, "BH": 16, "Br": 64, "Bc": 64]),
            "triton 128 128 2048 64 16": ("sdpa_flash", ["N": 2048, "d": 64, "BH": 16, "Br": 128, "Bc": 128]),
        ]
        let all = try measurements()
        func entries(_ names: [String]) -> [[String: Any]] {
            names.map { n in
                ["name": n, "measured": h100Reference.appendingPathComponent(all[n]!.ncu_file).path,
                 "kernel": packageRoot.appendingPathComponent("Kernels/stack/\(kernels[n]!.0).kern").path, "params": kernels[n]!.1]
            }
        }
        let dir = try tempDir()
        let url = dir.appendingPathComponent("manifest.json")
        try JSONSerialization.data(withJSONObject: ["gpu": "h100-sxm", "fit": entries(fit), "held_out": entries(heldOut)]).write(to: url)
        return url
    }

    /// Fitted on eager attention and two flash rows, the fractions move and the held-out rows'
    /// median time error falls.
    @Test func fitLowersHeldOutError() throws {
        let url = try manifest(fit: ["standard 1024 64 16 fw", "standard 4096 64 16 fw", "flash 2048 64 16 fw", "triton 64 64 2048 64 16"],
                               heldOut: ["standard 8192 128 16 fw", "flash 8192 64 16 fw", "flash 2048 128 16 fw", "triton 128 128 2048 64 16"])
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let c = try Calibration.run(CalibrationManifest.load(url.path), manifestPath: url.path, base: Self.gpu)
        let before = try #require(try c.medianTimeError(heldOut: true, on: c.base))
        let after = try #require(try c.medianTimeError(heldOut: true, on: c.fitted))
        #expect(after < before)
        #expect(try c.medianTimeError(heldOut: false, on: c.fitted)! < c.medianTimeError(heldOut: false, on: c.base)!)
        #expect(c.fitted.name == "h100-sxm-calibrated")
        #expect(c.fitted.hbmEfficiency != Self.gpu.hbmEfficiency || c.fitted.computeEfficiency != Self.gpu.computeEfficiency)
        // The fitted file is a --gpu-file: it loads and runs.
        let data = try JSONEncoder().encode(c.fitted)
        let loaded = try GPUModel.load(json: data, path: "fitted.json")
        #expect(loaded == c.fitted)
    }

    @Test func refusesFewerPointsThanParameters() throws {
        let url = try manifest(fit: ["flash 2048 64 16 fw"], heldOut: ["flash 8192 64 16 fw"])
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do { _ = try Calibration.run(CalibrationManifest.load(url.path), manifestPath: url.path, base: Self.gpu); Issue.record("fitted") } catch {
            #expect("\(error)".contains("needs at least 2 fitted workloads"))
        }
    }
}
