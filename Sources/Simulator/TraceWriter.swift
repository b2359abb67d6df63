import Foundation
import KernLang

/// Trace file format version; readers refuse other versions.
public let traceSchemaVersion = 1

/// Writes bytes to `path` through a temporary file in the same folder, renamed into place
/// only by `commit()`: a failed or interrupted run never leaves a partial file at `path`.
public final class AtomicFileWriter {
    public let path: String
    let tempPath: String
    var handle: UnsafeMutablePointer<FILE>?
    var buffer: [UInt8] = []

    public init(path: String) throws(SimulationError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        tempPath = (dir.isEmpty ? "" : dir + "/") + ".\(base).\(getpid()).tmp"
        guard let h = fopen(tempPath, "wb") else {
            throw .input("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        TemporaryFiles.shared.add(tempPath)
        handle = h
        buffer.reserveCapacity(1 << 20)
    }

    @inline(__always) public func write(_ s: String) throws(SimulationError) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func write(_ d: Data) throws(SimulationError) {
        buffer.append(contentsOf: d)
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// A block of bytes written straight through (after whatever is buffered).
    public func write(_ block: UnsafeRawBufferPointer) throws(SimulationError) {
        try flush()
        guard let h = handle, block.count > 0 else { return }
        if fwrite(block.baseAddress, 1, block.count, h) != block.count {
            throw .input("writing '\(path)' failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Byte-level appends for the hot event path (no intermediate Strings).
    @inline(__always) func raw(_ s: StaticString) {
        s.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    @inline(__always) func int(_ v: Int64) {
        if v < 0 { buffer.append(UInt8(ascii: "-")); int(v == .min ? .max : -v); return }
        if v < 10 { buffer.append(UInt8(48 + v)); return }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var n = 0
        var x = UInt64(v)
        withUnsafeMutableBytes(of: &digits) { d in
            while x > 0 { d[n] = UInt8(48 + x % 10); x /= 10; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { buffer.append(d[i]) }
        }
    }

    /// Numbers: integers exactly; other values in Swift's shortest round-trip form.
    func number(_ d: Double) {
        if d == d.rounded() && abs(d) < 1e15 { int(Int64(d)); return }
        guard d.isFinite else { raw("null"); return }
        buffer.append(contentsOf: d.description.utf8)
    }

    /// A JSON string; identifiers take the fast path.
    func string(_ s: String) {
        buffer.append(UInt8(ascii: "\""))
        var plain = true
        for b in s.utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { plain = false; break }
        if plain { buffer.append(contentsOf: s.utf8) } else { buffer.append(contentsOf: jsonString(s).utf8.dropFirst().dropLast()) }
        buffer.append(UInt8(ascii: "\""))
    }

    func endRecord() throws(SimulationError) {
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws(SimulationError) {
        guard let h = handle, !buffer.isEmpty else { return }
        let n = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, h) }
        if n != buffer.count { throw .input("writing '\(path)' failed: \(String(cString: strerror(errno)))") }
        buffer.removeAll(keepingCapacity: true)
    }

    public func commit() throws(SimulationError) {
        try flush()
        if let h = handle { fclose(h); handle = nil }
        defer { TemporaryFiles.shared.remove(tempPath) }
        if rename(tempPath, path) != 0 {
            unlink(tempPath)
            throw .input("cannot move the finished file into '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Drops the temporary file (on any failure).
    public func abandon() {
        if let h = handle { fclose(h); handle = nil }
        unlink(tempPath)
        TemporaryFiles.shared.remove(tempPath)
    }

    deinit { if handle != nil { abandon() } }
}

/// The temporary files being written, so that an interrupted run (SIGINT, SIGTERM) can remove
/// them before it exits: a stopped run leaves nothing behind, as a failed one does.
public final class TemporaryFiles: @unchecked Sendable {
    public static let shared = TemporaryFiles()
    private let lock = NSLock()
    private var paths = Set<String>()
    private var sources: [DispatchSourceSignal] = []

    func add(_ p: String) { lock.lock(); paths.insert(p); lock.unlock() }
    func remove(_ p: String) { lock.lock(); paths.remove(p); lock.unlock() }

    /// Removes every temporary file (the writers may still hold them open; unlinking is enough).
    public func removeAll() {
        lock.lock()
        for p in paths { unlink(p) }
        paths.removeAll()
        lock.unlock()
    }

    /// On SIGINT or SIGTERM: remove the temporary files, then exit with 128 + the signal's number
    /// (130, 143), as a shell reports a process that a signal stopped.
    public func cleanUpOnSignals() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                removeAll()
                if sig == SIGINT { FileHandle.standardError.write(Data("\ngpusim: interrupted\n".utf8)) }
                _exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Everything a trace header records about a run.
public struct TraceHeader: Codable, Sendable {
    public var schema = "gpusim-trace"
    public var version = traceSchemaVersion
    public var kernel: String
    public var file: String
    /// The preset a simulation ran on; for a measured trace the preset of the GPU it was
    /// measured on, when the importer was told (nil otherwise).
    public var gpu: GPUModel?
    public var params: [String: ParamValue]
    /// "measured" for a trace imported from a profiler (nil: a gpusim simulation).
    public var source: String?
    /// The profiler a measured trace came from ("Nsight Compute", "PyTorch profiler").
    public var tool: String?
    /// The program's source files by id, when it has more than one (an event's `loc` names
    /// the file by this index when it is not the entry kernel's, index 0).
    public var files: [String]?

    public init(kernel: String, file: String, gpu: GPUModel?, params: [String: ParamValue], source: String? = nil, tool: String? = nil) {
        self.kernel = kernel; self.file = file; self.gpu = gpu; self.params = params; self.source = source; self.tool = tool
    }
}

/// JSON with sorted keys, as every trace form writes its header and summary (stable bytes).
func sortedJSON<T: Encodable>(_ value: T, _ what: String) throws(SimulationError) -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    guard let data = try? enc.encode(value) else { throw .input("cannot encode the \(what)") }
    return data
}

public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

func jsonNumber(_ d: Double) -> String {
    guard d.isFinite else { return "null" }
    if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
    return "\(d)"
}

public protocol TraceWriter: EventSink {
    func finish(summary: RunSummary) throws(SimulationError)
    func abandon()
}

/// JSON Lines: a header object, one object per event, and a closing summary object
/// (a trace without it was cut short, and readers say so).
public final class JSONLTraceWriter: TraceWriter {
    let out: AtomicFileWriter

    public init(path: String, header: TraceHeader) throws(SimulationError) {
        out = try AtomicFileWriter(path: path)
        try out.write(sortedJSON(header, "trace header") + Data("\n".utf8))
    }

    public func record(_ e: Event) throws(SimulationError) {
        out.raw("{\"seq\":"); out.int(e.seq)
        out.raw(",\"t\":"); out.number(e.time)
        out.raw(",\"dur\":"); out.number(e.duration)
        out.raw(",\"kind\":"); out.string(e.kind.rawValue)
        out.raw(",\"op\":"); out.string(e.op)
        out.raw(",\"name\":"); out.string(e.name)
        out.raw(",\"shape\":["); out.int(e.rows); out.raw(","); out.int(e.cols)
        out.raw("],\"bytes\":"); out.int(e.bytes)
        if e.dramBytes != BinaryTrace.defaultDRAM(e.kind, bytes: e.bytes) { out.raw(",\"dram\":"); out.int(e.dramBytes) }
        if e.dramWriteBytes != 0 { out.raw(",\"dram_write\":"); out.int(e.dramWriteBytes) }
        if e.flops != 0 { out.raw(",\"flops\":"); out.int(e.flops) }
        out.raw(",\"sram\":"); out.int(e.sramBytes)
        out.raw(",\"hbm\":"); out.int(e.hbmBytes)
        out.raw(",\"loc\":\"")
        if e.file != 0 { out.int(Int64(e.file)); out.raw(":") }
        out.int(Int64(e.line)); out.raw(":"); out.int(Int64(e.column)); out.raw("\"}")
        try out.endRecord()
    }

    public func finish(summary: RunSummary) throws(SimulationError) {
        try out.write(sortedJSON(["summary": summary], "summary") + Data("\n".utf8))
        try out.commit()
    }

    public func abandon() { out.abandon() }
}

/// How much of a run a Chrome trace shows: `launch` the GPU kernel launches as spans and the
/// counters (small enough for Perfetto's UI at model scale), `statement` also every load,
/// store and compute as a slice (the default), `event` also allocations, frees and loop
/// iterations as instants.
public enum TraceDetail: String, CaseIterable, Sendable { case launch, statement, event }

/// Chrome Trace Event JSON for Perfetto / chrome://tracing: launches as spans enclosing their
/// work (B/E on their own track), memory transfers and computes as slices on separate tracks
/// (each ends at its event's time; a track's slices never overlap), SRAM occupancy, HBM and
/// L2 traffic as counters.
/// Timestamps are microseconds for real presets; seed presets count cycles, shown as
/// nanoseconds (1 cycle = 1 ns on the axis, said in the trace's metadata).
public final class ChromeTraceWriter: TraceWriter {
    let out: AtomicFileWriter
    let scale: Double
    let detail: TraceDetail
    var first = true
    var traffic: Int64 = 0, l2: Int64 = 0
    var memClock = 0.0, computeClock = 0.0
    /// Launch spans open now, innermost last (a kernel that launches others nests them).
    var open: [String] = []
    var namedCollectives = false

    public init(path: String, header: TraceHeader, detail: TraceDetail = .statement) throws(SimulationError) {
        out = try AtomicFileWriter(path: path)
        self.detail = detail
        let seconds = header.gpu.map { $0.units == .seconds } ?? true, gpuName = header.gpu?.name ?? "an unknown GPU"
        // Chrome's ts is in microseconds: seconds scale by 1e6, cycles by 1e-3 (1 cycle = 1 ns).
        scale = seconds ? 1e6 : 1e-3
        let unit = seconds ? "us" : "cycles (1 cycle shown as 1 ns)"
        try out.write("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"kernel\":\(jsonString(header.kernel)),\"gpu\":\(jsonString(gpuName)),\"time_unit\":\"\(unit)\",\"detail\":\"\(detail.rawValue)\"},\"traceEvents\":[\n")
        let process = header.kernel + " on " + gpuName + (seconds ? "" : " (time axis: 1 ns = 1 cycle)")
        try item("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\(jsonString(process))}}")
        try item("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"thread_name\",\"args\":{\"name\":\"GPU kernel launches\"}}")
        if detail != .launch {
            try item("{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"HBM transfers\"}}")
            try item("{\"ph\":\"M\",\"pid\":1,\"tid\":2,\"name\":\"thread_name\",\"args\":{\"name\":\"compute\"}}")
        }
        if header.source == "measured" {
            try item("{\"ph\":\"M\",\"pid\":1,\"tid\":3,\"name\":\"thread_name\",\"args\":{\"name\":\"GPU kernels (measured)\"}}")
        }
    }

    func item(_ s: String) throws(SimulationError) {
        try out.write(first ? s : ",\n" + s)
        first = false
    }

    /// Where a slice of a track is drawn: ending at its event's time, starting `dur` earlier
    /// but not before the track's previous slice ended (slices of a track never overlap). Work
    /// that overlaps other work in the model (compute hidden under memory) can so be drawn
    /// shorter than its modelled duration, which the slice's args keep.
    func slice(_ track: inout Double, end: Double, dur: Double) -> (start: Double, dur: Double) {
        let start = min(end, max(track, end - dur))
        track = end
        return (start, end - start)
    }

    func counters(_ ts: Double, sram: Int64) throws(SimulationError) {
        try item("{\"ph\":\"C\",\"pid\":1,\"ts\":\(jsonNumber(ts)),\"name\":\"SRAM occupancy (bytes)\",\"args\":{\"sram\":\(sram)}}")
        try item("{\"ph\":\"C\",\"pid\":1,\"ts\":\(jsonNumber(ts)),\"name\":\"HBM traffic (bytes)\",\"args\":{\"bytes\":\(traffic)}}")
        try item("{\"ph\":\"C\",\"pid\":1,\"ts\":\(jsonNumber(ts)),\"name\":\"L2 traffic (bytes)\",\"args\":{\"bytes\":\(l2)}}")
    }

    public func record(_ e: Event) throws(SimulationError) {
        let end = e.time * scale, dur = e.duration * scale
        switch e.kind {
        case .load, .store:
            traffic += e.dramBytes
            l2 += e.bytes
            guard detail != .launch else { return }
            let (start, shown) = slice(&memClock, end: end, dur: dur)
            try item("{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":\(jsonNumber(start)),\"dur\":\(jsonNumber(shown)),\"name\":\(jsonString("\(e.kind.rawValue) \(e.name)")),\"args\":{\"tensor\":\(jsonString(e.op)),\"bytes\":\(e.bytes),\"hbm_bytes\":\(e.dramBytes),\"shape\":\"\(e.rows)x\(e.cols)\",\"modelled_dur\":\(jsonNumber(dur)),\"loc\":\"\(e.loc)\"}}")
            try counters(end, sram: e.sramBytes)
        case .compute:
            guard detail != .launch else { return }
            let (start, shown) = slice(&computeClock, end: end, dur: dur)
            try item("{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"ts\":\(jsonNumber(start)),\"dur\":\(jsonNumber(shown)),\"name\":\(jsonString(e.op)),\"args\":{\"tile\":\(jsonString(e.name)),\"flops\":\(e.flops),\"shape\":\"\(e.rows)x\(e.cols)\",\"modelled_dur\":\(jsonNumber(dur)),\"loc\":\"\(e.loc)\"}}")
            try counters(end, sram: e.sramBytes)
        case .overflow:
            guard detail != .launch else { return }
            try item("{\"ph\":\"i\",\"s\":\"p\",\"pid\":1,\"tid\":2,\"ts\":\(jsonNumber(end)),\"name\":\"SRAM overflow\",\"args\":{\"over_bytes\":\(e.bytes),\"loc\":\"\(e.loc)\"}}")
        case .launch where e.duration > 0:
            // A measured launch: a span on its own track, with what the profiler counted.
            traffic += e.dramBytes + e.dramWriteBytes
            l2 += e.bytes
            try item("{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"ts\":\(jsonNumber(end - dur)),\"dur\":\(jsonNumber(dur)),\"name\":\(jsonString(e.name)),\"args\":{\"launch\":\(jsonString(e.op)),\"dram_read_bytes\":\(e.dramBytes),\"dram_write_bytes\":\(e.dramWriteBytes),\"l2_bytes\":\(e.bytes)}}")
            try counters(end, sram: 0)
        case .launch:
            // A simulated launch opens a span its `end` closes; statements in between are its work.
            open.append(e.name)
            try item("{\"ph\":\"B\",\"pid\":1,\"tid\":0,\"ts\":\(jsonNumber(end)),\"name\":\(jsonString(e.name)),\"args\":{\"loc\":\"\(e.loc)\"}}")
            if detail == .launch { try counters(end, sram: e.sramBytes) }
        case .end where e.op == "kernel":
            guard !open.isEmpty else { return }
            open.removeLast()
            try item("{\"ph\":\"E\",\"pid\":1,\"tid\":0,\"ts\":\(jsonNumber(end))}")
            if detail == .launch { try counters(end, sram: e.sramBytes) }
        case .end:
            // Spans a truncated stream left open close at the end of the run.
            while !open.isEmpty { open.removeLast(); try item("{\"ph\":\"E\",\"pid\":1,\"tid\":0,\"ts\":\(jsonNumber(end))}") }
            try counters(end, sram: e.sramBytes)
            try item("{\"ph\":\"i\",\"s\":\"g\",\"pid\":1,\"tid\":0,\"ts\":\(jsonNumber(end)),\"name\":\"end of run\",\"args\":{\"kernel\":\(jsonString(e.name))}}")
        case .collective:
            // Between launches, on a track of its own (named at its first): the GPUs exchanging.
            if !namedCollectives {
                namedCollectives = true
                try item("{\"ph\":\"M\",\"pid\":1,\"tid\":4,\"name\":\"thread_name\",\"args\":{\"name\":\"collectives (interconnect)\"}}")
            }
            try item("{\"ph\":\"X\",\"pid\":1,\"tid\":4,\"ts\":\(jsonNumber(end - dur)),\"dur\":\(jsonNumber(dur)),\"name\":\(jsonString("\(e.op) \(e.name)")),\"args\":{\"bytes\":\(e.bytes),\"shape\":\"\(e.rows)x\(e.cols)\",\"loc\":\"\(e.loc)\"}}")
        case .alloc, .free, .iteration:
            if e.kind != .iteration && detail != .launch { try item("{\"ph\":\"C\",\"pid\":1,\"ts\":\(jsonNumber(end)),\"name\":\"SRAM occupancy (bytes)\",\"args\":{\"sram\":\(e.sramBytes)}}") }
            guard detail == .event else { return }
            let what = e.kind == .iteration ? "\(e.name) = \(e.rows) of \(e.cols)" : "\(e.kind.rawValue) \(e.name) (\(e.op))"
            try item("{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":\(e.kind == .iteration ? 2 : 1),\"ts\":\(jsonNumber(end)),\"name\":\(jsonString(what)),\"args\":{\"bytes\":\(e.bytes),\"loc\":\"\(e.loc)\"}}")
        }
    }

    public func finish(summary: RunSummary) throws(SimulationError) {
        try out.write("\n]}\n")
        try out.commit()
    }

    public func abandon() { out.abandon() }
}
