import Foundation

/// Reads a PyTorch profiler Chrome trace (`prof.export_chrome_trace(path)`): its GPU kernel
/// events (`"ph": "X"`, `"cat": "kernel"`, `ts` and `dur` in microseconds, `args.grid` and
/// `args.block`) in start order. The profiler times kernels but does not count bytes, so a
/// trace imported from it knows durations and geometry only. `deviceProperties[0].name`
/// names the GPU when present.
public enum TorchProfile {
    public static let tool = "PyTorch profiler"

    public static func read(_ path: String) throws(ImportError) -> MeasuredRun {
        let text = try NsightCSV.readText(path)
        return try parse(Data(text.utf8), file: path)
    }

    public static func parse(_ data: Data, file: String) throws(ImportError) -> MeasuredRun {
        guard let root = try? JSONSerialization.jsonObject(with: data) else {
            throw ImportError("'\(file)' is not JSON (a PyTorch profiler trace is the JSON export_chrome_trace writes)")
        }
        let events: [Any]
        var device: String?
        if let object = root as? [String: Any] {
            guard let list = object["traceEvents"] as? [Any] else {
                throw ImportError("'\(file)' has no \"traceEvents\" list: not a Chrome trace")
            }
            events = list
            device = ((object["deviceProperties"] as? [Any])?.first as? [String: Any])?["name"] as? String
        } else if let list = root as? [Any] {
            events = list
        } else {
            throw ImportError("'\(file)' is neither a Chrome trace object nor an event list")
        }
        var kernels: [(start: Double, launch: MeasuredLaunch)] = []
        for (i, any) in events.enumerated() {
            guard let e = any as? [String: Any], (e["cat"] as? String)?.lowercased() == "kernel", (e["ph"] as? String ?? "X") == "X" else { continue }
            guard let name = e["name"] as? String, let ts = number(e["ts"]), let dur = number(e["dur"]), dur >= 0, ts.isFinite else {
                throw ImportError("'\(file)': kernel event \(i) lacks a name, \"ts\" or a non-negative \"dur\"")
            }
            let args = e["args"] as? [String: Any] ?? [:]
            kernels.append((ts, MeasuredLaunch(name: name, grid: dims(args["grid"]), block: dims(args["block"]), seconds: dur * 1e-6)))
        }
        guard !kernels.isEmpty else {
            throw ImportError("'\(file)' has no GPU kernel events (\"cat\": \"kernel\"); was the profiler run with ProfilerActivity.CUDA?")
        }
        // Stable: kernels that start together keep their order in the file.
        let ordered = kernels.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }.map(\.element.launch)
        return MeasuredRun(tool: tool, file: file, device: device, launches: ordered)
    }

    static func number(_ v: Any?) -> Double? {
        if let d = v as? Double { return d }
        if let n = v as? NSNumber { return n.doubleValue }
        if let s = v as? String { return Double(s) }
        return nil
    }

    static func dims(_ v: Any?) -> [Int64] {
        (v as? [Any])?.compactMap { number($0).map { Int64($0) } } ?? []
    }
}
