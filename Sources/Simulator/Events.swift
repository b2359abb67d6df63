import KernLang

public enum EventKind: String, Sendable, Codable, CaseIterable {
    case alloc, free, load, store, compute, overflow, launch
    /// A loop iteration begins (`name` is the loop variable, `loc` the loop statement).
    case iteration
    /// Something ends. `op` "kernel": the launch of kernel `name` that the last `launch` event
    /// of that name began (`loc` its `run` statement). `op` "run": the run itself, the last
    /// event, at the summary's `time.total` (idle wave slots, the last launch's overlap and
    /// launch overhead after the last statement included).
    case end
    /// A collective between GPUs (`op` "allreduce" or "allgather", `name` the tensor, `bytes` its size).
    case collective

    /// A small distinct number per kind (for hashing without the raw string).
    public var code: Int {
        switch self {
        case .alloc: 0
        case .free: 1
        case .load: 2
        case .store: 3
        case .compute: 4
        case .overflow: 5
        case .launch: 6
        case .iteration: 7
        case .end: 8
        case .collective: 9
        }
    }
}

/// One thing that happened on the simulated GPU. Kept small and plain; the interpreter
/// only builds events when a sink wants them.
public struct Event: Sendable {
    public var seq: Int64 = 0
    /// Simulated time when the event ends (cycles or seconds, as the preset's units).
    public var time: Double = 0
    public var duration: Double = 0
    public var kind: EventKind = .compute
    /// Operation for computes (matmul, exp, softmax, ...), memory level for allocs ("hbm"/"sram").
    public var op: String = ""
    public var name: String = ""
    public var rows: Int64 = 0
    public var cols: Int64 = 0
    public var bytes: Int64 = 0
    public var flops: Int64 = 0
    public var sramBytes: Int64 = 0
    public var hbmBytes: Int64 = 0
    /// Loads: the bytes HBM served (the rest were L2 hits); loads and stores without an L2
    /// model: `bytes`.
    public var dramBytes: Int64 = 0
    /// Measured launches only: the bytes DRAM wrote during the launch (`dramBytes` holds what
    /// it read, `bytes` all L2 traffic). Simulated events keep it 0.
    public var dramWriteBytes: Int64 = 0
    public var line: Int = 0
    public var column: Int = 0
    /// The source file by id (`CheckedProgram.filesByID`; 0: the entry kernel's file).
    public var file: Int = 0
    public init() {}

    /// Where the event's statement is: "line:column" in the entry kernel's file,
    /// "file:line:column" (the file's id, the header's `files`) in another.
    public var loc: String { file == 0 ? "\(line):\(column)" : "\(file):\(line):\(column)" }

    /// Parses `loc` back (nil when malformed).
    public static func parseLoc(_ s: Substring) -> (file: Int, line: Int, column: Int)? {
        let n = s.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard !n.contains(where: { $0 == nil || $0! < 0 }) else { return nil }
        switch n.count {
        case 2: return (0, n[0]!, n[1]!)
        case 3: return (n[0]!, n[1]!, n[2]!)
        default: return nil
        }
    }
}

/// Receives events as the interpreter produces them (streamed; nothing is kept in memory).
public protocol EventSink: AnyObject {
    func record(_ event: Event) throws(SimulationError)
}

/// Collects events in memory: for tests and small runs only.
public final class EventCollector: EventSink {
    public private(set) var events: [Event] = []
    public init() {}
    public func record(_ event: Event) { events.append(event) }
}
