import Foundation
import KernLang

/// Trace events: emitting them, and replaying a recorded iteration's for skipped ones.
extension Interpreter {
    func emit(_ kind: EventKind, op: String, name: String, rows: Int64, cols: Int64, bytes: Int64, flops: Int64, duration: Double, _ span: Span,
              dram: Int64? = nil, at stamp: Double? = nil) throws(SimulationError) {
        tally.events &+= 1
        guard let sink else { return }
        seq += 1
        if let m = options.maxEvents, seq > m {
            throw .input("--max-events: the run produced more than \(m) events and was stopped")
        }
        var e = Event()
        e.seq = seq; e.kind = kind; e.op = op; e.name = name; e.rows = rows; e.cols = cols
        e.bytes = bytes; e.flops = flops; e.duration = duration; e.time = stamp ?? clock(tally.work, openLaunch: openLaunch)
        e.sramBytes = sramCurrent; e.hbmBytes = hbmCurrent
        e.dramBytes = dram ?? (kind == .load || kind == .store ? bytes : 0)
        let (l, c) = span.file.location(of: span.start)
        e.line = l; e.column = c
        e.file = fileID(span.file)
        if recording != nil { recording!.append(RecordedEvent(event: e, work: tally.work, openLaunch: openLaunch)) }
        try sink.record(e)
    }

    /// Counts events the run produces where no sink wants them built.
    @inline(__always) func countEvent(times n: Int64 = 1) { tally.events &+= n }

    /// An event of a recorded iteration, with the work its time derives from.
    struct RecordedEvent {
        var event: Event
        var work: Work
        var openLaunch: Work?
    }

    /// Emits a recorded iteration again as iteration `k`: the same events (iterations of a
    /// fast-forwarded loop are identical), renumbered, their times recomputed from the work
    /// they would have had, the loop's own iteration event carrying `k`. The trace is the one
    /// a full simulation writes.
    func replay(_ recorded: inout [RecordedEvent], iteration k: Int64, from start: Tally) throws(SimulationError) {
        guard let sink else { return }
        if let m = options.maxEvents, seq + Int64(recorded.count) > m {
            throw .input("--max-events: the run produced more than \(m) events and was stopped")
        }
        // Patched in place through a pointer (no copy of each event and its strings); every
        // field patched is rewritten on each replay, so the array stays a faithful template.
        // The counters do not move while replaying, so their offset is computed once.
        let delta = tally.work - start.work
        var n0 = seq
        defer { seq = n0 }
        try recorded.withUnsafeMutableBufferPointer { (r) throws(SimulationError) in
            for n in r.indices {
                n0 += 1
                // Replayed events run no statements, so the wall-time limit is checked here too.
                if n0 & 0xFFFF == 0, let deadline, Date() > deadline { throw timedOut }
                // A launch that began within the recorded iteration moves with it; one the whole
                // loop runs inside (the loop is in the launched kernel) stays where it began.
                let work = r[n].work + delta
                let open = r[n].openLaunch.map { $0.launches > start.launches ? $0 + delta : $0 }
                r[n].event.seq = n0
                r[n].event.time = clock(work, openLaunch: open)
                if n == 0 && r[n].event.kind == .iteration { r[n].event.rows = k }
                if recording != nil { recording!.append(RecordedEvent(event: r[n].event, work: work, openLaunch: open)) }
                try sink.record(r[n].event)
            }
        }
    }
}
