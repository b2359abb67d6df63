import Foundation
import KernLang
import Simulator

/// Reads gpusim's JSON Lines traces, refusing other schemas and versions and saying so when a
/// trace was cut short (no closing summary line).
public struct TraceReader {
    public enum Failure: Error, CustomStringConvertible {
        case message(String)
        public var description: String { if case .message(let s) = self { return s }; return "" }
    }

    public struct Trace {
        public var kernel: String
        public var file: String
        public var gpu: GPUModel
        public var params: [String: ParamValue]
        public var summary: RunSummary
    }

    /// Reads `path`, feeding every event to `sink` (if any); returns the header and summary.
    public static func read(_ path: String, into sink: EventSink? = nil) throws(Failure) -> Trace {
        guard let data = FileManager.default.contents(atPath: path) else { throw .message("cannot open '\(path)'") }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let first = lines.first else { throw .message("'\(path)' is empty, not a gpusim trace") }
        struct Header: Decodable {
            var schema: String?
            var version: Int?
            var kernel: String
            var file: String
            var gpu: GPUModel
            var params: [String: ParamValue]
        }
        guard let probe = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any], probe["schema"] as? String == "gpusim-trace" else {
            throw .message("'\(path)' is not a gpusim JSONL trace (its first line has no \"schema\": \"gpusim-trace\")")
        }
        guard probe["version"] as? Int == traceSchemaVersion else {
            throw .message("'\(path)' is a gpusim trace of schema version \(probe["version"] ?? "?"); this gpusim reads version \(traceSchemaVersion)")
        }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(first)) } catch {
            throw .message("'\(path)': the trace header is malformed")
        }
        lines.removeFirst()
        guard let last = lines.last, let closing = try? JSONSerialization.jsonObject(with: Data(last)) as? [String: Any], closing["summary"] != nil else {
            throw .message("'\(path)' is truncated: it has no closing summary line (the run that wrote it did not finish)")
        }
        let summary: RunSummary
        do {
            struct Closing: Decodable { var summary: RunSummary }
            summary = try JSONDecoder().decode(Closing.self, from: Data(last)).summary
        } catch { throw .message("'\(path)': the closing summary is malformed") }
        lines.removeLast()
        if let sink {
            for (n, line) in lines.enumerated() {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let kindName = o["kind"] as? String, let kind = EventKind(rawValue: kindName),
                      let loc = o["loc"] as? String, let shape = o["shape"] as? [Int] else {
                    throw .message("'\(path)': line \(n + 2) is not a valid event")
                }
                let lc = loc.split(separator: ":").compactMap { Int($0) }
                guard lc.count == 2 else { throw .message("'\(path)': line \(n + 2) has a bad loc '\(loc)'") }
                func int(_ k: String) -> Int64 { (o[k] as? NSNumber)?.int64Value ?? 0 }
                var e = Event()
                e.seq = int("seq"); e.kind = kind; e.op = o["op"] as? String ?? ""; e.name = o["name"] as? String ?? ""
                e.time = (o["t"] as? NSNumber)?.doubleValue ?? 0; e.duration = (o["dur"] as? NSNumber)?.doubleValue ?? 0
                e.rows = Int64(shape.first ?? 0); e.cols = Int64(shape.last ?? 0)
                e.bytes = int("bytes"); e.flops = int("flops"); e.sramBytes = int("sram"); e.hbmBytes = int("hbm")
                e.file = header.file; e.line = lc[0]; e.column = lc[1]
                do { try sink.record(e) } catch { throw .message("'\(path)': \(error)") }
            }
        }
        return Trace(kernel: header.kernel, file: header.file, gpu: header.gpu, params: header.params, summary: summary)
    }

    /// True when the file starts like a JSON trace rather than kernel source.
    public static func looksLikeTrace(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = h.readData(ofLength: 64)
        return head.first == UInt8(ascii: "{")
    }
}
