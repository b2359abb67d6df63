import Foundation
import KernLang
import Simulator

/// Reads gpusim's traces (JSON Lines or the compact binary form), refusing other schemas and
/// versions and saying so when a trace was cut short (no closing summary).
public struct TraceReader {
    public enum Failure: Error, CustomStringConvertible {
        case message(String)
        public var description: String { if case .message(let s) = self { return s }; return "" }
    }

    public struct Trace {
        public var kernel: String
        public var file: String
        public var gpu: GPUModel?
        public var params: [String: ParamValue]
        public var summary: RunSummary
        /// The header as recorded (to write the trace again in another format).
        public var header: TraceHeader
    }

    /// Reads `path`, feeding every event to `sink` (if any); returns the header and summary.
    public static func read(_ path: String, into sink: EventSink? = nil) throws(Failure) -> Trace {
        try read(path) { _ in sink }
    }

    /// Reads `path`; once the header is known and the trace checked complete, `sinkFor` gives
    /// the sink for its events (a writer of another format needs the header first). A JSONL
    /// trace is read in one pass of fixed-size chunks, so memory does not grow with its length,
    /// and when no sink is wanted only its first and last lines are read.
    public static func read(_ path: String, sinkFor: (TraceHeader) throws(Failure) -> EventSink?) throws(Failure) -> Trace {
        if let p = InputFile.problem(path) { throw .message(p) }
        if InputFile.head(path, BinaryTrace.magic.count).elementsEqual(BinaryTrace.magic) {
            let data: Data
            do { data = try InputFile.read(path) } catch { throw .message(error.description) }
            return try readBinary(data, path: path, sinkFor: sinkFor)
        }
        guard let file = FileHandle(forReadingAtPath: path) else { throw .message("cannot read '\(path)'") }
        defer { try? file.close() }
        let size: UInt64
        do { size = try file.seekToEnd() } catch { throw .message("cannot read '\(path)': \(error.localizedDescription)") }
        guard size > 0 else { throw .message("'\(path)' is empty, not a gpusim trace") }
        // The header: the first line.
        var lines = LineReader(file: file, start: 0, end: size)
        guard let first = lines.next() else { throw .message("'\(path)' is empty, not a gpusim trace") }
        let headerEnd = lines.offset
        guard let probe = try? JSONSerialization.jsonObject(with: first) as? [String: Any], probe["schema"] as? String == "gpusim-trace" else {
            throw .message("'\(path)' is not a gpusim JSONL trace (its first line has no \"schema\": \"gpusim-trace\")")
        }
        guard probe["version"] as? Int == traceSchemaVersion else {
            throw .message("'\(path)' is a gpusim trace of schema version \(probe["version"] ?? "?"); this gpusim reads version \(traceSchemaVersion)")
        }
        let header: TraceHeader
        do { header = try JSONDecoder().decode(TraceHeader.self, from: first) } catch {
            throw .message("'\(path)': the trace header is malformed")
        }
        // The summary: the last line, read from the end.
        let (last, lastStart) = lastLine(file, size: size, after: headerEnd)
        guard let last, let closing = try? JSONSerialization.jsonObject(with: last) as? [String: Any], closing["summary"] != nil else {
            throw .message("'\(path)' is truncated: it has no closing summary line (the run that wrote it did not finish)")
        }
        let summary: RunSummary
        do {
            struct Closing: Decodable { var summary: RunSummary }
            summary = try JSONDecoder().decode(Closing.self, from: last).summary
        } catch { throw .message("'\(path)': the closing summary is malformed") }
        if let sink = try sinkFor(header) {
            // JSONDecoder, not JSONSerialization: it parses every double exactly, so times read
            // back bit for bit as they were written.
            struct Line: Decodable {
                var seq: Int64, t: Double?, dur: Double?, kind: EventKind, op: String, name: String, shape: [Int64]
                var bytes: Int64, flops: Int64?, sram: Int64, hbm: Int64, loc: String, dram: Int64?
                var dram_write: Int64?
            }
            let decoder = JSONDecoder()
            var events = LineReader(file: file, start: headerEnd, end: lastStart)
            var fast = JSONLEventParser()
            var n = 0
            while let range = events.nextRange() {
                defer { n += 1 }
                var e: Event
                if let parsed = events.buffer.withUnsafeBytes({ fast.parse(UnsafeRawBufferPointer(rebasing: $0[range])) }) { e = parsed } else {
                    let line = Data(events.buffer[range])
                    guard let o = try? decoder.decode(Line.self, from: line), o.shape.count == 2 else {
                        throw .message("'\(path)': line \(n + 2) is not a valid event")
                    }
                    guard let loc = Event.parseLoc(Substring(o.loc)) else { throw .message("'\(path)': line \(n + 2) has a bad loc '\(o.loc)'") }
                    e = Event()
                    e.seq = o.seq; e.kind = o.kind; e.op = o.op; e.name = o.name; e.time = o.t ?? 0; e.duration = o.dur ?? 0
                    e.rows = o.shape[0]; e.cols = o.shape[1]
                    e.bytes = o.bytes; e.flops = o.flops ?? 0; e.sramBytes = o.sram; e.hbmBytes = o.hbm
                    e.dramBytes = o.dram ?? BinaryTrace.defaultDRAM(o.kind, bytes: o.bytes)
                    e.dramWriteBytes = o.dram_write ?? 0
                    e.line = loc.line; e.column = loc.column; e.file = loc.file
                }
                guard BinaryTrace.plausible(e.seq, e.rows, e.cols, e.bytes, e.flops, e.sramBytes, e.hbmBytes, e.dramBytes, e.dramWriteBytes), e.time.isFinite, e.duration.isFinite else {
                    throw .message("'\(path)': line \(n + 2) has a value that is negative, not finite or beyond 2^50")
                }
                do { try sink.record(e) } catch { throw .message("'\(path)': \(error)") }
            }
        }
        return Trace(kernel: header.kernel, file: header.file, gpu: header.gpu, params: header.params, summary: summary,
                     header: header)
    }

    /// The last non-empty line of the file after byte `after`, and where it starts: read
    /// backwards in growing blocks (a summary is small; a model's is some tens of KB).
    static func lastLine(_ file: FileHandle, size: UInt64, after: UInt64) -> (Data?, UInt64) {
        var block: UInt64 = 64 << 10
        while true {
            let from = size > block ? max(after, size - block) : after
            guard (try? file.seek(toOffset: from)) != nil, let tail = try? file.read(upToCount: Int(size - from)) else { return (nil, size) }
            var bytes = tail[...]
            while bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
            if let nl = bytes.lastIndex(of: UInt8(ascii: "\n")) {
                let line = Data(bytes[(nl + 1)...])
                return (line.isEmpty ? nil : line, from + UInt64(nl - tail.startIndex + 1))
            }
            if from == after { return (bytes.isEmpty ? nil : Data(bytes), after) }
            block *= 4
        }
    }

    /// Lines of a byte range of a file, read in 4 MiB chunks.
    struct LineReader {
        let file: FileHandle
        /// The file offset just past the last line returned.
        var offset: UInt64
        let end: UInt64
        var buffer: [UInt8] = []
        var position = 0

        init(file: FileHandle, start: UInt64, end: UInt64) {
            self.file = file; offset = start; self.end = end
            try? file.seek(toOffset: start)
        }

        /// The next non-empty line (without its newline).
        mutating func next() -> Data? {
            guard let r = nextRange() else { return nil }
            return Data(buffer[r])
        }

        /// Where the next non-empty line (without its newline) lies in `buffer`: valid until the
        /// next call. Events are parsed in place, with no copy per line.
        mutating func nextRange() -> Range<Int>? {
            while true {
                let found: Int? = buffer.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) -> Int? in
                    guard position < b.count, let hit = memchr(b.baseAddress! + position, 0x0A, b.count - position) else { return nil }
                    return UnsafeRawPointer(hit) - UnsafeRawPointer(b.baseAddress!)
                }
                if let nl = found {
                    let line = position..<nl
                    offset += UInt64(nl - position + 1)
                    position = nl + 1
                    if line.isEmpty { continue }
                    return line
                }
                let consumed = offset + UInt64(buffer.count - position)
                guard consumed < end else {
                    // The last line of the range may lack its newline.
                    guard position < buffer.count else { return nil }
                    let line = position..<buffer.count
                    offset += UInt64(buffer.count - position)
                    position = buffer.count
                    return line
                }
                let want = Int(min(UInt64(4 << 20), end - consumed))
                try? file.seek(toOffset: consumed)
                guard let more = try? file.read(upToCount: want), !more.isEmpty else { return nil }
                buffer.removeFirst(position)
                buffer.append(contentsOf: more)
                position = 0
            }
        }
    }

    /// The binary layout is documented on `BinaryTrace`.
    static func readBinary(_ data: Data, path: String, sinkFor: (TraceHeader) throws(Failure) -> EventSink?) throws(Failure) -> Trace {
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) })) }
        func u64(_ at: Int) -> Int64 { Int64(bitPattern: UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) })) }
        guard data.count >= 16 else { throw .message("'\(path)' is truncated: it ends inside the binary trace's header") }
        guard u32(8) == traceSchemaVersion else {
            throw .message("'\(path)' is a gpusim trace of schema version \(u32(8)); this gpusim reads version \(traceSchemaVersion)")
        }
        let headerEnd = 16 + u32(12)
        guard data.count >= headerEnd, let header = try? JSONDecoder().decode(TraceHeader.self, from: data[16..<headerEnd]) else {
            throw .message("'\(path)': the trace header is malformed")
        }
        let n = data.count
        guard n >= headerEnd + BinaryTrace.trailerSize, data[(n - 8)...].elementsEqual(BinaryTrace.endMagic) else {
            throw .message("'\(path)' is truncated: it has no closing summary (the run that wrote it did not finish)")
        }
        let footerStart = u64(n - 24), count = u64(n - 16)
        guard count >= 0, footerStart >= Int64(headerEnd), footerStart <= Int64(n - BinaryTrace.trailerSize) else {
            throw .message("'\(path)': the trailer's footer offset (\(footerStart)) lies outside the file")
        }
        let footer: BinaryTrace.Footer
        do { footer = try JSONDecoder().decode(BinaryTrace.Footer.self, from: data[Int(footerStart)..<(n - BinaryTrace.trailerSize)]) } catch {
            throw .message("'\(path)': the closing summary is malformed")
        }
        let sites = footer.sites.compactMap(BinaryTrace.decode)
        guard sites.count == footer.sites.count else { throw .message("'\(path)': the site table is malformed") }
        if let sink = try sinkFor(header) {
            let result: Result<Int64, Failure> = data.withUnsafeBytes { bytes in
                var decoder = BinaryTraceDecoder(bytes: bytes, start: headerEnd, end: Int(footerStart), sites: sites)
                var e = Event()
                var k: Int64 = 0
                do {
                    while !decoder.atEnd {
                        try decoder.next(into: &e)
                        k += 1
                        try sink.record(e)
                    }
                } catch let failure as BinaryTraceDecoder.Failure {
                    guard case .malformed(let offset, let why) = failure else { return .success(k) }
                    return .failure(.message("'\(path)': event \(k + 1) (byte \(offset)) is malformed: \(why)"))
                } catch {
                    return .failure(.message("'\(path)': \(error)"))
                }
                return .success(k)
            }
            let k = try result.get()
            guard k == count else { throw .message("'\(path)': it holds \(k) events but its trailer says \(count)") }
        }
        return Trace(kernel: header.kernel, file: header.file, gpu: header.gpu, params: header.params, summary: footer.summary,
                     header: header)
    }

    /// True when the file starts with the binary trace's magic.
    public static func isBinary(_ path: String) -> Bool {
        InputFile.head(path, BinaryTrace.magic.count).elementsEqual(BinaryTrace.magic)
    }

    /// True when the file starts like a trace (JSON or binary) rather than kernel source.
    public static func looksLikeTrace(_ path: String) -> Bool {
        let head = InputFile.head(path, 64)
        return head.first == UInt8(ascii: "{") || head.starts(with: BinaryTrace.magic)
    }
}
