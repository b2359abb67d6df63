import Foundation
import KernLang


/// Options for one run.
public struct RunOptions: Sendable {
    public var gpu: GPUModel
    /// Parameter overrides for the entry kernel, by name (`--N 8192`).
    public var overrides: [String: ParamValue]
    public var maxEvents: Int64?
    public var timeoutSeconds: Double?
    /// A deterministic budget of interpreted statements (for fuzzing and tests).
    public var maxSteps: Int64?
    /// Whether each launch starts with an empty L2 (`flush`, the default) or finds what earlier
    /// launches left there (`warm`).
    public var cache: CacheMode
    public init(gpu: GPUModel, overrides: [String: ParamValue] = [:], maxEvents: Int64? = nil, timeoutSeconds: Double? = nil, maxSteps: Int64? = nil,
                cache: CacheMode = .flush) {
        self.gpu = gpu; self.overrides = overrides; self.maxEvents = maxEvents; self.timeoutSeconds = timeoutSeconds; self.maxSteps = maxSteps
        self.cache = cache
    }
}

/// Walks a checked program against a GPU model, accumulating the summary and streaming events.
public final class Interpreter {
    enum Value {
        case none, int(Int64), float(Double), bool(Bool), range(Int64, Int64), dtype(DType), tile(Int32)
    }

    struct Tile {
        var rows: Int64, cols: Int64
        var dtype: DType
        var bytes: Int64
        var name: String
        var live: Bool
        /// The tensor (global id, -1: none) and slice the tile was loaded from: storing it back
        /// there from inside a block's loop is an accumulation in global memory.
        var loadedFrom: Int = -1
        var loadedSlice: [SliceDim] = []
    }

    struct Tensor {
        var name: String
        var shape: [Int64]
        var dtype: DType
        var bytes: Int64
        /// Where a `free` released its HBM (later reads and writes are errors).
        var freedAt: Span? = nil
    }

    final class Frame {
        let kernel: CheckedKernel
        var values: [Value]
        /// Kernel-local tensor index -> global tensor id.
        var tensors: [Int]
        /// Param slot -> value that replaces the default (CLI flags or launch arguments).
        var overrides: [Int: Value]
        /// Tensor index -> caller's global tensor id, for tensors passed into a launch.
        var bound: [Int: Int]
        /// Tensor index -> fixed leading indices, for tensors passed as views (`W = Wq[l]`).
        var views: [Int: [Int64]] = [:]
        /// Tensor index -> the shape this kernel declares for a bound tensor of the same size
        /// but another shape (a contiguous reshape, e.g. (1 x H hd) seen as (H x hd)).
        var reshapes: [Int: [Int64]] = [:]
        var owned: [Int] = []
        /// The compute capability (x 10) its `target` statement declares (nil: the GPU's own).
        var builtFor: Int64?
        /// The warps of each thread block its `warps` statement declares.
        var warps = GPUModel.defaultWarps
        init(kernel: CheckedKernel, overrides: [Int: Value], bound: [Int: Int]) {
            self.kernel = kernel
            self.values = Array(repeating: .none, count: kernel.slotNames.count)
            self.tensors = Array(repeating: -1, count: kernel.tensorNames.count)
            self.overrides = overrides
            self.bound = bound
        }
    }

    let program: CheckedProgram
    let gpu: GPUModel
    let options: RunOptions
    public internal(set) var summary = RunSummary()
    var sink: EventSink?

    var tiles: [Tile] = []
    var freeTiles: [Int32] = []
    var tensors: [Tensor] = []
    var sramCurrent: Int64 = 0
    var hbmCurrent: Int64 = 0
    /// Additive counters; times are derived from them, so fast-forwarded loops stay exact.
    var tally = Tally()
    /// Skip identical loop iterations (off in numeric runs, whose values differ per iteration; with
    /// an event sink the skipped iterations' events are replayed, so the trace is the full one).
    public var fastForward = true
    /// Values of tensors and tiles, in `--numeric` runs.
    var numerics: NumericEngine?
    /// Events of the iteration being recorded for replay (nil when not recording).
    var recording: [RecordedEvent]?
    /// Called with the fraction of the outermost loop done (for progress bars).
    public var progress: ((Double) -> Void)?
    var loopDepth = 0
    /// `parallel` loops entered: the outermost one is a grid of thread blocks.
    var parallelDepth = 0
    /// Sequential loops entered inside the current thread block, and whether it has run one:
    /// a store after its loop, outside any, is the block's epilogue.
    var blockLoopDepth = 0
    /// Whether the running block reduced rows, and its DRAM bytes when it started.
    var blockReducedRows = false
    var blockStartBytes: Int64 = 0
    var blockLooped = false
    /// Whether each parallel loop (by its source position) has no parallel loop inside: its
    /// iterations are the grid's thread blocks.
    var innermostParallel: [Int: Bool] = [:]
    /// Parallel loops' bodies (by source position) as `blocksRunApart` found them.
    var blockAccess: [Int: BlockAccess] = [:]
    /// The parallel loops of the current grid entered so far, outermost first: their loop
    /// variables and trip counts (the grid's block coordinates).
    var gridLevels: [(slot: Int, count: Int64)] = []
    /// The current grid's body, its L2 as seen at each depth of its parallel nest, and each
    /// load statement's DRAM share (see `dramShare`).
    var gridBody: RBlock?
    var l2Grids: [Int: L2Grid] = [:]
    /// Grid levels of the current grid that slices use divided (`findSplits`): level -> divisor.
    var l2Splits: [Int: Int64] = [:]
    var shareCache: [Int: Double] = [:]
    /// `--cache warm`: the fraction of each tensor (by global id) the last grid left in L2.
    var l2Carried: [Int: Double] = [:]
    /// The entry kernel is a GPU kernel of its own unless it only launches others.
    var entryLaunches: Int64 = 0
    var gpuKernel: [Int: Bool] = [:]
    /// An entry that is a GPU kernel: its top-level grids (its launches) as they ended.
    var grids = GridClock()
    /// Whether a top-level grid of such an entry is running now (statements outside grids may
    /// yet join the last one, see `TimeModel.clock`).
    var inGrid = false
    /// Where the GPU kernel launched now began (nil between launches).
    var openLaunch: Work?
    var seq: Int64 = 0
    var lastFile: (file: SourceFile, id: Int)?
    /// Bytes and FLOPs: the cost rules `gpusim complexity` derives its formulas from too.
    let cost: CostRules<IntegerCost>
    var steps: Int64 = 0
    var deadline: Date?
    let time: TimeModel

    public init(program: CheckedProgram, options: RunOptions, sink: EventSink? = nil, numeric: NumericOptions? = nil) {
        if let numeric {
            numerics = numeric.accumulate64 ? NumericState<Double>(options: numeric) : NumericState<Float>(options: numeric)
        }
        self.program = program
        self.gpu = options.gpu
        self.options = options
        self.sink = sink
        self.cost = CostRules(gpu: options.gpu, math: IntegerCost())
        self.time = TimeModel(options.gpu)
    }

    /// Runs the entry kernel and returns the summary.
    public func run() throws(SimulationError) -> RunSummary {
        let entry = program.entryKernel
        let overrides = try entryOverrides()
        if let t = options.timeoutSeconds { deadline = Date().addingTimeInterval(t) }
        summary.kernel = entry.name
        summary.gpu = gpu.name
        entryLaunches = Self.launchesOthers(entry.body) ? 0 : 1
        summary.sram.capacity_bytes = gpu.sramBytes
        summary.hbm.capacity_bytes = gpu.hbmBytes
        summary.time.unit = gpu.units
        let frame = Frame(kernel: entry, overrides: overrides, bound: [:])
        try runKernel(frame, isEntry: true)
        try finish()
        return summary
    }

    /// CLI overrides mapped to the entry kernel's parameter slots; unknown names are flag errors.
    func entryOverrides() throws(SimulationError) -> [Int: Value] {
        let entry = program.entryKernel
        var overrides: [Int: Value] = [:]
        let names = entry.params.map(\.name)
        for (name, v) in options.overrides.sorted(by: { $0.key < $1.key }) {
            guard let p = entry.params.first(where: { $0.name == name }) else {
                var msg = "--\(name): kernel '\(entry.name)' has no parameter '\(name)'"
                if let s = closestName(to: name, in: names) { msg += "; did you mean --\(s)?" }
                msg += names.isEmpty ? "" : " (parameters: \(names.joined(separator: ", ")))"
                throw .usage(msg)
            }
            switch v {
            case .int(let x): overrides[p.slot] = .int(x)
            case .float(let x): overrides[p.slot] = .float(x)
            case .bool(let x): overrides[p.slot] = .bool(x)
            case .dtype(let s):
                guard let d = DType(rawValue: s) else { throw .usage("--\(name): expected a number or a dtype, got '\(s)'") }
                overrides[p.slot] = .dtype(d)
            }
        }
        return overrides
    }

    /// The entry kernel's parameters as a run resolves them (defaults, rules and overrides), without running it.
    public func resolveParams() throws(SimulationError) -> [String: ParamValue] {
        let saved = summary
        defer { summary = saved }
        let frame = Frame(kernel: program.entryKernel, overrides: try entryOverrides(), bound: [:])
        var out: [String: ParamValue] = [:]
        for s in program.entryKernel.body.stmts {
            guard case .param(let slot, let name, _) = s.kind else { continue }
            try execStmt(s, frame)
            out[name] = paramValue(frame.values[slot])
        }
        return out
    }

    /// The entry kernel's HBM tensors with their resolved shapes, without running it.
    public func resolveTensors() throws(SimulationError) -> [(name: String, role: TensorRole, shape: [Int64], dtype: DType, bytes: Int64)] {
        let saved = summary
        defer { summary = saved }
        let frame = Frame(kernel: program.entryKernel, overrides: try entryOverrides(), bound: [:])
        var out: [(String, TensorRole, [Int64], DType, Int64)] = []
        for s in program.entryKernel.body.stmts {
            switch s.kind {
            case .param: try execStmt(s, frame)
            case .tensor(let index, let role, let name, _, _, _):
                try execStmt(s, frame)
                let t = tensors[frame.tensors[index]]
                out.append((name, role, t.shape, t.dtype, t.bytes))
            default: break
            }
        }
        return out
    }

    /// The id of `file` in `program.filesByID`, remembered for the file asked last (events of
    /// one statement after another mostly come from one file).
    func fileID(_ file: SourceFile) -> Int {
        if let last = lastFile, last.file === file { return last.id }
        let id = program.fileID(of: file)
        lastFile = (file, id)
        return id
    }

    /// The clock events are stamped with after work `w`, during the launch that began at `open`.
    func clock(_ w: Work, openLaunch open: Work?) -> Double {
        time.clock(w, openLaunch: open, entryIsGPUKernel: entryLaunches == 1, grids: grids, betweenGrids: !inGrid)
    }

    func runKernel(_ frame: Frame, isEntry: Bool) throws(SimulationError) {
        if isEntry { try execPhases(frame) } else { try exec(frame.kernel.body, frame) }
        if isEntry {
            for p in frame.kernel.params { summary.params[p.name] = paramValue(frame.values[p.slot]) }
        }
        if isEntry { keepOutputs(frame) }
        for t in frame.owned { releaseTensor(t) }
    }

    /// The entry kernel's output tensors (and caches, which a step leaves for the next) after a numeric run, by name.
    public private(set) var outputs: [String: OutputTensor] = [:]

    func keepOutputs(_ frame: Frame) {
        guard let numerics else { return }
        for t in frame.kernel.tensors where t.role == .output || t.role == .cache {
            let id = frame.tensors[t.index]
            guard id >= 0 else { continue }
            outputs[t.name] = OutputTensor(shape: tensors[id].shape, dtype: tensors[id].dtype, values: numerics.tensorValues(id))
        }
    }

    func paramValue(_ v: Value) -> ParamValue {
        switch v {
        case .int(let x): .int(x)
        case .float(let x): .float(x)
        case .bool(let x): .bool(x)
        case .dtype(let d): .dtype(d.rawValue)
        default: .int(0)
        }
    }

    // MARK: statements

    func exec(_ block: RBlock, _ f: Frame) throws(SimulationError) {
        for s in block.stmts {
            try execStmt(s, f)
            for slot in s.freeAfter { freeSlot(slot, f, s.span) }
        }
        for slot in block.locals { freeSlot(slot, f, nil) }
    }

    func fail(_ message: String, _ span: Span, notes: [Diagnostic.Note] = []) -> SimulationError {
        .kernel(.error(message, at: span, notes: notes))
    }

    func tick() throws(SimulationError) {
        steps &+= 1
        if let m = options.maxSteps, steps > m { throw .input("the run interpreted more than \(m) statements and was stopped (step budget)") }
        if steps & 0xFFFF == 0, let deadline, Date() > deadline { throw timedOut }
    }

    var timedOut: SimulationError { .input("--timeout: the run took longer than \(options.timeoutSeconds ?? 0) s and was stopped") }

    func describeParams(_ f: Frame) -> String {
        f.kernel.params.compactMap { p -> String? in
            switch f.values[p.slot] { case .none: return nil; default: return "\(p.name) = \(paramValue(f.values[p.slot]))" }
        }.joined(separator: ", ")
    }

}

/// An output tensor's values after a numeric run.
public struct OutputTensor: Sendable {
    public var shape: [Int64]
    public var dtype: DType
    public var values: [Double]
}

func fmtShape(_ s: [Int64]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
func fmtTile(_ t: Interpreter.Tile) -> String { "(\(t.rows) x \(t.cols))" }

/// Human byte sizes in decimal units, as GPU datasheets print them.
/// Seconds in s, ms or us, as the reports print them.
public func fmtSeconds(_ t: Double) -> String {
    if t >= 1 { return String(format: "%.3f s", t) }
    if t >= 1e-3 { return String(format: "%.3f ms", t * 1e3) }
    return String(format: "%.2f us", t * 1e6)
}

public func fmtBytes(_ b: Int64) -> String {
    let v = Double(b)
    let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
    for (scale, name) in units where v >= scale {
        let x = v / scale
        return (x >= 100 ? String(format: "%.0f", x) : x >= 10 ? String(format: "%.1f", x) : String(format: "%.2f", x)) + " " + name
    }
    return "\(b) B"
}
