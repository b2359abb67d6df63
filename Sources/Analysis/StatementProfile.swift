import Foundation
import KernLang
import Simulator

/// Aggregates events by source location: how often each statement ran and what it moved
/// and computed. Fed by a live run (as an event sink) or by a recorded trace.
public final class StatementProfile: EventSink {
    public struct Stat: Sendable, Equatable {
        public var count: Int64 = 0
        public var bytes: Int64 = 0
        public var flops: Int64 = 0
    }

    /// Key: file << 42 | line << 20 | column (`key`).
    public private(set) var byLocation: [Int: Stat] = [:]
    public private(set) var iterations: [Int: Int64] = [:]
    public private(set) var tensorBytes: [String: Int64] = [:]
    public private(set) var tensorShapes: [String: (Int64, Int64)] = [:]
    public private(set) var hbmRead: [String: Int64] = [:]
    public private(set) var hbmWritten: [String: Int64] = [:]

    /// Each launch statement (by key): how often it ran, the clock time from its launch to its
    /// end, and the DRAM bytes and FLOPs of the work inside, summed over its runs.
    public struct LaunchStat: Sendable, Equatable {
        public var count: Int64 = 0
        public var seconds: Double = 0
        public var dramBytes: Int64 = 0
        public var flops: Int64 = 0
    }
    public private(set) var launches: [Int: LaunchStat] = [:]
    /// Each collective statement (by key): how often it ran across GPUs, its time and the
    /// bytes of the tensor it reduced or gathered, summed over its runs.
    public struct CollectiveStat: Sendable, Equatable {
        public var count: Int64 = 0
        public var seconds: Double = 0
        public var bytes: Int64 = 0
    }
    public private(set) var collectives: [Int: CollectiveStat] = [:]
    private var openLaunches: [(key: Int, time: Double, dram: Int64, flops: Int64)] = []
    private var dramSoFar: Int64 = 0, flopsSoFar: Int64 = 0

    public init() {}

    /// A statement's key: its file's id (0: the entry kernel's file, see `Event.file`), line and column.
    public static func key(_ line: Int, _ column: Int, file: Int = 0) -> Int { file << 42 | line << 20 | column }

    public func record(_ e: Event) {
        switch e.kind {
        case .load, .store: dramSoFar += e.dramBytes
        case .launch where e.op == "kernel": openLaunches.append((Self.key(e.line, e.column, file: e.file), e.time, dramSoFar, flopsSoFar))
        case .collective:
            let k = Self.key(e.line, e.column, file: e.file)
            collectives[k, default: CollectiveStat()].count += 1
            collectives[k]!.seconds += e.duration
            collectives[k]!.bytes += e.bytes
        case .end where e.op == "kernel":
            if let open = openLaunches.popLast() {
                var l = launches[open.key] ?? LaunchStat()
                l.count += 1
                l.seconds += e.time - open.time
                l.dramBytes += dramSoFar - open.dram
                l.flops += flopsSoFar - open.flops
                launches[open.key] = l
            }
        default: break
        }
        flopsSoFar += e.flops
        add(kind: e.kind, op: e.op, name: e.name, rows: e.rows, cols: e.cols, bytes: e.bytes, flops: e.flops, line: e.line, column: e.column, file: e.file, dram: e.dramBytes)
    }

    /// `dram`: the bytes of a load that HBM served (the rest were L2 hits).
    public func add(kind: EventKind, op: String, name: String, rows: Int64, cols: Int64, bytes: Int64, flops: Int64, line: Int, column: Int, file: Int = 0, dram: Int64? = nil) {
        let k = Self.key(line, column, file: file)
        switch kind {
        case .iteration:
            iterations[k, default: 0] += 1
            return
        case .alloc:
            tensorBytes[name] = bytes
            tensorShapes[name] = (rows, cols)
        case .load: hbmRead[op, default: 0] += dram ?? bytes
        case .store: hbmWritten[op, default: 0] += bytes
        case .free, .overflow, .end: return
        default: break
        }
        var s = byLocation[k] ?? Stat()
        s.count += 1
        s.bytes += bytes
        s.flops += flops
        byLocation[k] = s
    }

    /// Everything recorded at locations inside `span` (a statement and the expressions in it),
    /// a span of the file with id `file` (0: the entry kernel's).
    public func stat(within span: Span, file: Int = 0, excludingNested nested: [Span] = []) -> Stat {
        let (l0, c0) = span.file.location(of: span.start), (l1, c1) = span.file.location(of: span.end)
        let lo = Self.key(l0, c0, file: file), hi = Self.key(l1, c1, file: file)
        var out = Stat()
        for (k, s) in byLocation where k >= lo && k < hi {
            if nested.contains(where: { n in
                let (a, b) = n.file.location(of: n.start), (c, d) = n.file.location(of: n.end)
                return k >= Self.key(a, b, file: file) && k < Self.key(c, d, file: file)
            }) { continue }
            out.count = max(out.count, s.count)
            out.bytes += s.bytes
            out.flops += s.flops
        }
        return out
    }

    public func iterationCount(of loop: Span, file: Int = 0) -> Int64 {
        let (l, c) = loop.file.location(of: loop.start)
        return iterations[Self.key(l, c, file: file)] ?? 0
    }
}
