import Foundation
import KernLang
import Simulator

/// One GPU kernel launch as a profiler measured it. A figure the tool did not measure is nil.
public struct MeasuredLaunch: Sendable, Equatable {
    public var name: String
    /// Grid and block dimensions (x, y, z); empty when the tool did not record them.
    public var grid: [Int64] = []
    public var block: [Int64] = []
    public var dramReadBytes: Int64?
    public var dramWriteBytes: Int64?
    /// All L2 traffic, reads and writes (`lts__t_bytes`).
    public var l2Bytes: Int64?
    public var seconds: Double

    public init(name: String, grid: [Int64] = [], block: [Int64] = [], dramReadBytes: Int64? = nil,
                dramWriteBytes: Int64? = nil, l2Bytes: Int64? = nil, seconds: Double) {
        self.name = name; self.grid = grid; self.block = block; self.dramReadBytes = dramReadBytes
        self.dramWriteBytes = dramWriteBytes; self.l2Bytes = l2Bytes; self.seconds = seconds
    }

    /// "grid 2x66x1 block 384x1x1", the launch geometry as a trace event's `op`.
    public var geometry: String {
        guard !grid.isEmpty || !block.isEmpty else { return "measured" }
        return "grid \(grid.map(String.init).joined(separator: "x")) block \(block.map(String.init).joined(separator: "x"))"
    }
}

/// The launches a profiler measured in one file, in launch order: what `gpusim import` turns
/// into a trace. Kernels ran back to back as far as the trace is concerned (the profilers
/// time kernels, not the gaps between them).
public struct MeasuredRun: Sendable {
    public var tool: String
    /// The file the measurements came from.
    public var file: String
    /// The device the tool names, when it does ("NVIDIA H100 80GB HBM3").
    public var device: String?
    public var launches: [MeasuredLaunch]

    public init(tool: String, file: String, device: String? = nil, launches: [MeasuredLaunch]) {
        self.tool = tool; self.file = file; self.device = device; self.launches = launches
    }

    /// The sections of a summary this run cannot fill.
    public var unknown: [String] {
        var u = ["flops", "sram", "hbm.peak_bytes"]
        if launches.contains(where: { $0.dramReadBytes == nil || $0.dramWriteBytes == nil }) { u.append("hbm") }
        if launches.contains(where: { $0.l2Bytes == nil }) { u.append("l2") }
        return u
    }

    /// The trace header: `source: "measured"`, the tool, and the preset when the caller names one.
    public func header(gpu: GPUModel?) -> TraceHeader {
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return TraceHeader(kernel: name, file: file, gpu: gpu, params: [:], source: "measured", tool: tool)
    }

    /// One `launch` event per launch: `bytes` is its L2 traffic, `dramBytes` what DRAM read,
    /// `dramWriteBytes` what it wrote, `rows` x `cols` the blocks and threads per block; the
    /// time is where the launch ends if kernels ran back to back.
    public var events: [Event] {
        var clock = 0.0
        return launches.enumerated().map { i, l in
            clock += l.seconds
            var e = Event()
            e.seq = Int64(i + 1); e.kind = .launch; e.op = l.geometry; e.name = l.name
            e.time = clock; e.duration = l.seconds
            e.rows = l.grid.reduce(1, *); e.cols = l.block.reduce(1, *)
            e.bytes = l.l2Bytes ?? 0; e.dramBytes = l.dramReadBytes ?? 0; e.dramWriteBytes = l.dramWriteBytes ?? 0
            return e
        }
    }

    /// Sums over the launches; what the tool did not measure is listed in `measured.unknown`.
    public func summary(gpu: GPUModel?) -> RunSummary {
        var s = RunSummary()
        s.kernel = header(gpu: gpu).kernel
        s.gpu = gpu?.name ?? device ?? "unknown"
        s.measured = .init(tool: tool, unknown: unknown)
        s.hbm.read_bytes = launches.reduce(0) { $0 + ($1.dramReadBytes ?? 0) }
        s.hbm.write_bytes = launches.reduce(0) { $0 + ($1.dramWriteBytes ?? 0) }
        s.hbm.capacity_bytes = gpu?.hbmBytes
        if !unknown.contains("l2") { s.l2 = .init(bytes: launches.reduce(0) { $0 + ($1.l2Bytes ?? 0) }) }
        s.time.total = launches.reduce(0) { $0 + $1.seconds }
        s.time.unit = .seconds
        s.bound = .unknown
        s.counts.launches = Int64(launches.count)
        s.counts.events = Int64(launches.count)
        return s
    }

    /// Writes the run as a trace (JSON Lines, binary or Chrome), through a temporary file.
    public func write(to path: String, format: Runner.TraceFormat, gpu: GPUModel?) throws(SimulationError) {
        let writer = try format.writer(path: path, header: header(gpu: gpu))
        do {
            for e in events { try writer.record(e) }
            try writer.finish(summary: summary(gpu: gpu))
        } catch {
            writer.abandon()
            throw error
        }
    }
}

extension MeasuredRun {
    /// Any measured file: `ncu --csv` output, a PyTorch profiler trace, or a measured gpusim
    /// trace written by `gpusim import`; told apart by their content.
    public static func load(_ path: String) throws(ImportError) -> MeasuredRun {
        if TraceReader.looksLikeTrace(path) && (TraceReader.isBinary(path) || isGpusimJSONL(path)) {
            let events = EventCollector()
            let t: TraceReader.Trace
            do { t = try TraceReader.read(path, into: events) } catch { throw ImportError(error.description) }
            guard let m = t.summary.measured else { throw ImportError("'\(path)' is a simulated trace, not a measurement") }
            let s = t.summary
            return MeasuredRun(tool: m.tool, file: path, launches: events.events.filter { $0.kind == .launch }.map { e in
                MeasuredLaunch(name: e.name, dramReadBytes: s.knows("hbm") ? e.dramBytes : nil, dramWriteBytes: s.knows("hbm") ? e.dramWriteBytes : nil,
                               l2Bytes: s.knows("l2") ? e.bytes : nil, seconds: e.duration)
            })
        }
        let text = try NsightCSV.readText(path)
        if text.drop(while: \.isWhitespace).first == "{" || text.drop(while: \.isWhitespace).first == "[" {
            return try TorchProfile.parse(Data(text.utf8), file: path)
        }
        return try NsightCSV.parse(text, file: path)
    }

    static func isGpusimJSONL(_ path: String) -> Bool {
        String(decoding: InputFile.head(path, 4096), as: UTF8.self).contains("\"schema\":\"gpusim-trace\"")
    }

    /// Kernel time summed over the launches (seconds) and DRAM bytes (nil when not measured).
    public var kernelSeconds: Double { launches.reduce(0) { $0 + $1.seconds } }
    public var dramBytes: Int64? {
        launches.reduce(Int64(0) as Int64?) { acc, l in acc.flatMap { a in l.dramReadBytes.flatMap { r in l.dramWriteBytes.map { a + r + $0 } } } }
    }
}

/// A measured file that cannot be imported: one line saying why.
public struct ImportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ s: String) { description = s }
}
