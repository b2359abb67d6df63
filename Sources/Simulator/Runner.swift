import Foundation
import KernLang

/// Loading kernel files from disk and running them with an optional trace file.
public enum Runner {
    /// Reads a file as UTF-8 (invalid bytes are replaced, and the lexer reports them).
    public static func readSource(_ path: String) throws(SimulationError) -> SourceFile {
        let data: Data
        do { data = try InputFile.read(path) } catch { throw .input(error.description) }
        return SourceFile(path: path, text: String(decoding: data, as: UTF8.self))
    }

    /// The file a kernel argument names: a path that exists, else a kernel of the library
    /// (`KernelLibrary`); an unknown name lists the closest ones.
    public static func resolveKernel(_ name: String) throws(SimulationError) -> String {
        switch KernelLibrary.resolve(name) {
        case .found(let p): return p
        case .notFound(let suggestions):
            var msg = "cannot open '\(name)': no such file, and no kernel of that name in the library"
            if !suggestions.isEmpty { msg += "; did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?" }
            throw .input(msg + " (gpusim list shows them)")
        }
    }

    /// Loads a kernel file (or a library kernel by name); imports resolve relative to the
    /// importing file's folder, else inside the kernel library's folders (`import
    /// "stack/rmsnorm.kern"` works from a file anywhere).
    public static func load(_ path: String, entry: String? = nil) throws(SimulationError) -> Result<CheckedProgram, DiagnosticList> {
        let file = try readSource(resolveKernel(path))
        return Checker.check(file: file, entry: entry) { imp, from in
            let dir = (from.path as NSString).deletingLastPathComponent
            let full = imp.hasPrefix("/") || dir.isEmpty ? imp : dir + "/" + imp
            if let f = try? readSource(full) { return f }
            guard !imp.hasPrefix("/") else { return nil }
            for folder in KernelLibrary.folders() { if let f = try? readSource(folder + "/" + imp) { return f } }
            return nil
        }
    }

    public enum TraceFormat: String, CaseIterable, Sendable {
        case jsonl, chrome, binary

        /// The format a path's extension asks for: `.gstrace` is binary, anything else JSONL.
        public static func forPath(_ path: String) -> TraceFormat {
            path.hasSuffix(".gstrace") ? .binary : .jsonl
        }

        /// A writer of this format streaming to `path` (`detail`: how much a Chrome trace shows).
        public func writer(path: String, header: TraceHeader, detail: TraceDetail = .statement) throws(SimulationError) -> TraceWriter {
            switch self {
            case .jsonl: try JSONLTraceWriter(path: path, header: header)
            case .chrome: try ChromeTraceWriter(path: path, header: header, detail: detail)
            case .binary: try BinaryTraceWriter(path: path, header: header)
            }
        }

        /// About how many bytes a trace of this format takes for a run of `events` events and
        /// `launches` launches: averages measured on shipped kernels' traces (flash attention, swiglu_mlp, two model stacks on h100-sxm: 166-175 bytes per JSONL event, 11-20 binary, 261-314 and 315-358 per Chrome statement and event, about 350 per launch span) (names and
        /// numbers vary, so this is an estimate, not a bound).
        public func estimatedBytes(events: Int64, launches: Int64, detail: TraceDetail) -> Int64 {
            switch (self, detail) {
            case (.jsonl, _): events &* 170
            case (.binary, _): events &* 16
            case (.chrome, .launch): (launches &* 2 &+ 1) &* 350 &+ 700
            case (.chrome, .statement): events &* 300
            case (.chrome, .event): events &* 350
            }
        }
    }
    /// `full`: every event; `summary`: the header and the closing summary only (the run may
    /// then fast-forward, so huge runs still leave a small, readable trace).
    public enum TraceMode: String, CaseIterable, Sendable { case full, summary }

    /// Runs `program`; with `tracePath` the events stream to that file, which appears only if the run succeeds.
    public static func run(_ program: CheckedProgram, options: RunOptions, tracePath: String? = nil,
                           traceFormat: TraceFormat = .jsonl, traceMode: TraceMode = .full, extraSink: EventSink? = nil) throws(SimulationError) -> RunSummary {
        try runNumeric(program, options: options, numeric: nil, tracePath: tracePath, traceFormat: traceFormat, traceMode: traceMode, extraSink: extraSink).summary
    }

    /// A run that also computes values when `numeric` is given; returns the entry kernel's outputs.
    /// `maxTraceBytes`: refuse, before writing anything, a full trace estimated above it.
    public static func runNumeric(_ program: CheckedProgram, options: RunOptions, numeric: NumericOptions?, tracePath: String? = nil,
                                  traceFormat: TraceFormat = .jsonl, traceMode: TraceMode = .full, traceDetail: TraceDetail = .statement,
                                  maxTraceBytes: Int64? = nil, extraSink: EventSink? = nil,
                                  progress: ((Double) -> Void)? = nil) throws(SimulationError)
        -> (summary: RunSummary, outputs: [String: OutputTensor]) {
        var writer: TraceWriter?
        if tracePath != nil, traceMode == .full, let limit = maxTraceBytes {
            try checkTraceSize(program, options: options, format: traceFormat, detail: traceDetail, limit: limit)
        }
        if let tracePath {
            let params = try Interpreter(program: program, options: options).resolveParams()
            var header = TraceHeader(kernel: program.entryKernel.name, file: program.entryKernel.span.file.path, gpu: options.gpu, params: params)
            let files = program.filesByID
            if files.count > 1 { header.files = files.map(\.path) }
            writer = try traceFormat.writer(path: tracePath, header: header, detail: traceDetail)
        }
        let streamed = traceMode == .full ? writer : nil
        let sink: EventSink? = switch (streamed, extraSink) {
        case (let w?, let x?): Tee(w, x)
        case (let w?, nil): w
        case (nil, let x): x
        }
        let interp = Interpreter(program: program, options: options, sink: sink, numeric: numeric)
        interp.progress = progress
        do {
            let summary = try interp.run()
            try writer?.finish(summary: summary)
            return (summary, interp.outputs)
        } catch {
            writer?.abandon()
            throw error
        }
    }
}

extension Runner {
    /// Refuses a trace estimated above `limit` bytes, naming the estimate and what makes it
    /// smaller. The event count comes from a run without a sink (fast-forwarded, so quick):
    /// the interpreter counts events whether or not they are written.
    static func checkTraceSize(_ program: CheckedProgram, options: RunOptions, format: TraceFormat, detail: TraceDetail, limit: Int64) throws(SimulationError) {
        let s = try Interpreter(program: program, options: options).run()
        let estimate = format.estimatedBytes(events: s.counts.events, launches: s.counts.launches, detail: detail)
        guard estimate > limit else { return }
        var smaller: [String] = []
        if format != .binary { smaller.append("--trace-format binary (about \(fmtBytes(TraceFormat.binary.estimatedBytes(events: s.counts.events, launches: s.counts.launches, detail: detail))))") }
        if format == .chrome && detail != .launch {
            smaller.append("--trace-detail launch (about \(fmtBytes(TraceFormat.chrome.estimatedBytes(events: s.counts.events, launches: s.counts.launches, detail: .launch))))")
        }
        smaller.append("--trace-mode summary (header and summary only)")
        smaller.append("smaller sizes")
        throw .usage("--max-trace-bytes: this trace would be about \(fmtBytes(estimate)) (\(s.counts.events) events as \(format.rawValue)"
                     + (format == .chrome ? ", detail \(detail.rawValue)" : "") + "), over the limit of \(fmtBytes(limit)); make it smaller with "
                     + smaller.joined(separator: ", ") + ", or raise --max-trace-bytes")
    }
}

/// Sends each event to two sinks.
public final class Tee: EventSink {
    let a: EventSink, b: EventSink
    public init(_ a: EventSink, _ b: EventSink) { self.a = a; self.b = b }
    public func record(_ e: Event) throws(SimulationError) { try a.record(e); try b.record(e) }
}
