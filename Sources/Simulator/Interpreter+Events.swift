import Foundation
import KernLang

/// Trace events: emitting them, and replaying a recorded iteration's for skipped ones.
extension Interpreter {
    func emit(_ kind: EventKind, op: String, name: String, rows: Int64, cols: Int64, bytes: Int64, flops: Int64, duration: Double, _ span: Span,
              dram: Int64? = nil) throws(SimulationError) {
        guard let sink else { return }
        seq += 1
        if let m = options.maxEvents, seq > m {
            throw .input("--max-events: the run produced more than \(m) events and was stopped")
        }
        var e = Event()
        e.seq = seq; e.kind = kind; e.op = op; e.name = name; e.rows = rows; e.cols = cols
        e.bytes = bytes; e.flops = flops; e.duration = duration; e.time = now
        e.sramBytes = sramCurrent; e.hbmBytes = hbmCurrent
        e.dramBytes = dram ?? (kind == .load || kind == .store ? bytes : 0)
        let (l, c) = span.file.location(of: span.start)
        e.line = l; e.column = c
        e.file = fileID(span.file)
        if recording != nil { recording!.append(RecordedEvent(event: e, tally)) }
        try sink.record(e)
    }

    /// An event of a recorded iteration, with the counters its time derives from.
    struct RecordedEvent {
        var event: Event
        var bytes: Int64, flops: Int64, tensorCoreFlops: Int64, launches: Int64
        init(event: Event, _ t: Tally) {
            self.event = event
            bytes = t.readBytes + t.writeBytes; flops = t.effectiveFlops; tensorCoreFlops = t.effectiveTensorCoreFlops
            launches = t.launches
        }
    }

    /// Emits a recorded iteration again as iteration `k`: the same events (iterations of a
    /// fast-forwarded loop are identical), renumbered, their times recomputed from the counters
    /// they would have had, the loop's own iteration event carrying `k`. The trace is the one
    /// a full simulation writes.
    func replay(_ recorded: inout [RecordedEvent], iteration k: Int64, from start: Tally) throws(SimulationError) {
        guard let sink else { return }
        let startBytes = start.readBytes + start.writeBytes
        let nowBytes = tally.readBytes + tally.writeBytes
        if let m = options.maxEvents, seq + Int64(recorded.count) > m {
            throw .input("--max-events: the run produced more than \(m) events and was stopped")
        }
        // Patched in place through a pointer (no copy of each event and its strings); every
        // field patched is rewritten on each replay, so the array stays a faithful template.
        // The counters do not move while replaying, so their offsets are computed once.
        let dBytes = nowBytes - startBytes
        let dFlops = tally.effectiveFlops - start.effectiveFlops
        let dTensor = tally.effectiveTensorCoreFlops - start.effectiveTensorCoreFlops
        let dLaunches = tally.launches - start.launches
        let entry = entryLaunches
        var n0 = seq
        defer { seq = n0 }
        try recorded.withUnsafeMutableBufferPointer { (r) throws(SimulationError) in
            for n in r.indices {
                n0 += 1
                // Replayed events run no statements, so the wall-time limit is checked here too.
                if n0 & 0xFFFF == 0, let deadline, Date() > deadline { throw timedOut }
                let bytes = r[n].bytes + dBytes, flops = r[n].flops + dFlops, tensor = r[n].tensorCoreFlops + dTensor
                let launches = r[n].launches + dLaunches
                r[n].event.seq = n0
                r[n].event.time = time.clock(bytes: bytes, flops: flops, tensorCore: tensor, launches: launches + entry)
                if n == 0 && r[n].event.kind == .iteration { r[n].event.rows = k }
                if recording != nil {
                    var copy = r[n]
                    copy.bytes = bytes; copy.flops = flops; copy.tensorCoreFlops = tensor; copy.launches = launches
                    recording!.append(copy)
                }
                try sink.record(r[n].event)
            }
        }
    }
}
