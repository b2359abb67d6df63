import Foundation
import KernLang

/// Tile operations as the cost model sees them; each charges `weight x elements` FLOPs.
enum TileOp: Int, CaseIterable {
    case add, sub, mul, neg, max, min, abs, div, exp, log, sqrt, rsqrt, tanh, gelu, silu
    case rowmax, rowsum, rowmean, softmax, mask, alibi, cast, copy, transpose, fill, topk, gather
    case argtopk, top_p, sinusoidal, dispatch
    /// Special-function-unit operations (weight above 1 in the seed), reported apart from plain ALU work.
    /// The op's name (events, weights): a static string, not reflection, since every event asks.
    var key: String {
        switch self {
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .neg: "neg"
        case .max: "max"
        case .min: "min"
        case .abs: "abs"
        case .div: "div"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .rsqrt: "rsqrt"
        case .tanh: "tanh"
        case .gelu: "gelu"
        case .silu: "silu"
        case .rowmax: "rowmax"
        case .rowsum: "rowsum"
        case .rowmean: "rowmean"
        case .softmax: "softmax"
        case .mask: "mask"
        case .alibi: "alibi"
        case .cast: "cast"
        case .copy: "copy"
        case .transpose: "transpose"
        case .fill: "fill"
        case .topk: "topk"
        case .gather: "gather"
        case .argtopk: "argtopk"
        case .top_p: "top_p"
        case .sinusoidal: "sinusoidal"
        case .dispatch: "dispatch"
        }
    }
    var isSpecial: Bool {
        switch self {
        case .div, .exp, .log, .sqrt, .rsqrt, .tanh, .gelu, .silu, .softmax, .sinusoidal: true
        default: false
        }
    }
}

/// Options for one run.
public struct RunOptions: Sendable {
    public var gpu: GPUModel
    /// Parameter overrides for the entry kernel, by name (`--N 8192`).
    public var overrides: [String: ParamValue]
    public var maxEvents: Int64?
    public var timeoutSeconds: Double?
    /// A deterministic budget of interpreted statements (for fuzzing and tests).
    public var maxSteps: Int64?
    public init(gpu: GPUModel, overrides: [String: ParamValue] = [:], maxEvents: Int64? = nil, timeoutSeconds: Double? = nil, maxSteps: Int64? = nil) {
        self.gpu = gpu; self.overrides = overrides; self.maxEvents = maxEvents; self.timeoutSeconds = timeoutSeconds; self.maxSteps = maxSteps
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
    /// Skip identical loop iterations (off whenever an event sink wants every event, or values are computed).
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
    /// Peak SRAM inside the current grid (one block's footprint over the SRAM it started with).
    var gridPeak: Int64 = 0
    /// Whether each parallel loop (by its source position) has no parallel loop inside: its
    /// iterations are the grid's thread blocks.
    var innermostParallel: [Int: Bool] = [:]
    /// The parallel loops of the current grid entered so far, outermost first: their loop
    /// variables and trip counts (the grid's block coordinates).
    var gridLevels: [(slot: Int, count: Int64)] = []
    /// Per load statement in the current grid: DRAM fetches per wave summed over the waves, and
    /// the blocks they are spread over (see `dramShare`).
    var shareCache: [Int: (fetches: Int64, blocks: Int64)] = [:]
    /// The entry kernel is a GPU kernel of its own unless it only launches others.
    var entryLaunches: Int64 = 0
    var gpuKernel: [Int: Bool] = [:]
    /// An entry that is a GPU kernel: the tallies where its top-level grids (its launches) ended.
    var gridEnds: [Tally] = []
    var seq: Int64 = 0
    var weights: [Int]
    var steps: Int64 = 0
    var deadline: Date?
    let memoryRate: Double

    public init(program: CheckedProgram, options: RunOptions, sink: EventSink? = nil, numeric: NumericOptions? = nil) {
        if let numeric {
            numerics = numeric.accumulate64 ? NumericState<Double>(options: numeric) : NumericState<Float>(options: numeric)
        }
        self.program = program
        self.gpu = options.gpu
        self.options = options
        self.sink = sink
        self.weights = TileOp.allCases.map { options.gpu.flopWeights[$0.key] ?? GPUModel.seedWeights[$0.key] ?? 1 }
        self.memoryRate = options.gpu.hbmBandwidth * options.gpu.hbmEfficiency
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
        summary.time.unit = gpu.units.rawValue
        let frame = Frame(kernel: entry, overrides: overrides, bound: [:])
        try runKernel(frame, isEntry: true)
        finish()
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

    func finish() {
        let (computeTime, memoryTime) = (self.computeTime, self.memoryTime)
        summary.hbm.read_bytes = tally.readBytes
        summary.hbm.write_bytes = tally.writeBytes
        summary.flops = .init(total: tally.flops, matmul: tally.matmulFlops, tensor_core: tally.tensorCoreFlops, elementwise: tally.elementwiseFlops, special: tally.specialFlops)
        summary.counts.loads = tally.loads
        summary.counts.stores = tally.stores
        summary.counts.computes = tally.computes
        summary.counts.launches = tally.launches
        summary.sram.overflow_count = tally.overflows
        summary.sram.overflow = tally.overflows > 0
        for (id, t) in tensors.enumerated() {
            let r = tally.value(.tensorRead, id), w = tally.value(.tensorWrite, id)
            guard r + w > 0 else { continue }
            summary.tensors[t.name, default: .init()].read_bytes += r
            summary.tensors[t.name, default: .init()].write_bytes += w
        }
        for (k, kernel) in program.kernels.enumerated() where tally.value(.kernelLaunches, k) > 0 {
            let fl = tally.value(.kernelFlops, k), tc = tally.value(.kernelTensorCoreFlops, k)
            let itc = tally.value(.kernelIdleTensorCoreFlops, k), ivec = tally.value(.kernelIdleVectorFlops, k)
            let rb = tally.value(.kernelRead, k), wb = tally.value(.kernelWrite, k), n = tally.value(.kernelLaunches, k)
            let c = self.computeTime(flops: fl + itc + ivec, tensorCore: tc + itc), m = Double(rb + wb) / memoryRate
            let own = gpu.modelsLaunches && isGPUKernel(k) ? Double(tally.value(.kernelFemtoseconds, k)) / 1e15 : gpu.compose(compute: c, memory: m)
            summary.kernels[kernel.name] = .init(launches: n, read_bytes: rb, write_bytes: wb, flops: fl,
                                                 time_total: own + launchTime(n), bound: m > c ? "memory" : "compute")
        }
        summary.time.compute = computeTime
        summary.time.memory = memoryTime
        let launches = launchTime(tally.launches + entryLaunches)
        let kernel = kernelTime()
        summary.time.total = kernel + launches
        if gpu.modelsLaunches {
            summary.time.launch_overhead = launches
            summary.time.kernel = kernel
        }
        if gpu.waveQuantisation == true && gpu.l2Bytes > 0 {
            // Every store passes through L2 (write-back), so L2 traffic is requested reads plus writes.
            summary.l2 = .init(read_bytes: tally.l2ReadBytes, hit_bytes: tally.l2ReadBytes - tally.readBytes,
                               bytes: tally.l2ReadBytes + tally.writeBytes)
        }
        if gpu.waveQuantisation == true {
            summary.time.wave_idle = self.computeTime(flops: tally.idleTensorCoreFlops + tally.idleVectorFlops, tensorCore: tally.idleTensorCoreFlops)
            summary.counts.blocks = tally.blocks
        }
        summary.bound = memoryTime > computeTime ? "memory" : "compute"
        if let e = gpu.elementBytes {
            summary.hbm.read_elements = summary.hbm.read_bytes / Int64(e)
            summary.hbm.write_elements = summary.hbm.write_bytes / Int64(e)
            summary.sram.peak_elements = summary.sram.peak_bytes / Int64(e)
        }
        summary.counts.events = seq
    }

    var computeTime: Double { computeTime(tally) }

    func computeTime(_ t: Tally) -> Double { computeTime(flops: t.effectiveFlops, tensorCore: t.effectiveTensorCoreFlops) }

    /// Launch overhead of `launches` GPU kernels (0 for presets without one).
    func launchTime(_ launches: Int64) -> Double { Double(launches) * (gpu.launchOverhead ?? 0) }

    /// The time of work done within one launch: its compute and memory composed.
    func kernelTime(of d: Tally) -> Double {
        gpu.compose(compute: computeTime(d), memory: Double(d.readBytes + d.writeBytes) / memoryRate)
    }

    /// Work `d` that no composed launch covered (a launching kernel's own), composed as one.
    func uncoveredTime(_ d: Tally) -> Double {
        let bytes = d.readBytes + d.writeBytes - d.launchedBytes
        let flops = d.effectiveFlops - d.launchedFlops, tensor = d.effectiveTensorCoreFlops - d.launchedTensorCoreFlops
        guard bytes > 0 || flops > 0 else { return 0 }
        return gpu.compose(compute: computeTime(flops: flops, tensorCore: tensor), memory: Double(bytes) / memoryRate)
    }

    /// The run's kernel time, launch overhead aside. Presets that model launches sum each
    /// launch's own overlap of compute and memory: the `run`s of GPU kernels as they ended, or,
    /// for an entry that is a GPU kernel, its top-level grids (statements around them join the
    /// next grid, trailing ones the last; without grids the whole entry is one launch). The
    /// seed's model composes the run's totals.
    func kernelTime() -> Double {
        guard gpu.modelsLaunches else { return gpu.compose(compute: computeTime, memory: memoryTime) }
        guard entryLaunches == 1 else { return Double(tally.kernelFemtoseconds) / 1e15 + uncoveredTime(tally) }
        var bounds = gridEnds
        if !bounds.isEmpty { bounds.removeLast() }
        bounds.append(tally)
        var total = 0.0, previous = Tally()
        for b in bounds {
            total += kernelTime(of: b - previous)
            previous = b
        }
        return total
    }

    func computeTime(flops: Int64, tensorCore: Int64) -> Double {
        let rate = gpu.computeEfficiency
        if gpu.matmulFlops == gpu.vectorFlops { return Double(flops) / (gpu.vectorFlops * rate) }
        return Double(tensorCore) / (gpu.matmulFlops * rate) + Double(flops - tensorCore) / (gpu.vectorFlops * rate)
    }
    var memoryTime: Double { Double(tally.readBytes + tally.writeBytes) / memoryRate }
    var now: Double { gpu.compose(compute: computeTime, memory: memoryTime) + launchTime(tally.launches + entryLaunches) }

    func runKernel(_ frame: Frame, isEntry: Bool) throws(SimulationError) {
        if isEntry { try execPhases(frame) } else { try exec(frame.kernel.body, frame) }
        if isEntry {
            for p in frame.kernel.params { summary.params[p.name] = paramValue(frame.values[p.slot]) }
        }
        if isEntry { keepOutputs(frame) }
        for t in frame.owned { releaseTensor(t) }
    }

    /// Runs the entry kernel's body recording a phase per top-level loop nest, repeat or launch
    /// (consecutive other statements form one phase), for per-phase rooflines and breakdowns.
    func execPhases(_ f: Frame) throws(SimulationError) {
        let body = f.kernel.body
        var pending: (label: String, line: Int, start: Tally)?
        func close() {
            guard let p = pending else { return }
            pending = nil
            addPhase(p.label, p.line, tally - p.start)
        }
        for s in body.stmts {
            let line = s.span.line
            switch s.kind {
            case .loop, .repeatLoop, .launch:
                close()
                let start = tally
                try execStmt(s, f)
                // A top-level grid of an entry that is a GPU kernel itself is one launch of its own.
                var grid = false
                if case .loop(parallel: true, _, _, _, _, _) = s.kind, entryLaunches == 1 { grid = true }
                if grid { gridEnds.append(tally) }
                addPhase(Self.header(s.span), line, tally - start, grid: grid)
            case .param, .tensor, .require, .free:
                try execStmt(s, f)
            default:
                if pending == nil { pending = (Self.header(s.span), line, tally) }
                else if let p = pending { pending = ("lines \(p.line)-\(line)", p.line, p.start) }
                try execStmt(s, f)
            }
            for slot in s.freeAfter { freeSlot(slot, f, s.span) }
        }
        close()
        for slot in body.locals { freeSlot(slot, f, nil) }
    }

    static func header(_ span: Span) -> String {
        let text = span.file.text(span).split(separator: "\n").first.map(String.init) ?? ""
        return text.replacingOccurrences(of: "{", with: "").trimmingCharacters(in: .whitespaces)
    }

    func addPhase(_ label: String, _ line: Int, _ d: Tally, grid: Bool = false) {
        guard d.loads + d.stores + d.computes > 0 else { return }
        let compute = computeTime(d), memory = Double(d.readBytes + d.writeBytes) / memoryRate
        // A phase of `run`s: the sum of its launches' own times; otherwise one launch or part of one.
        let kernel = gpu.modelsLaunches && d.launches > 0 ? Double(d.kernelFemtoseconds) / 1e15 + uncoveredTime(d) : gpu.compose(compute: compute, memory: memory)
        summary.phases.append(RunSummary.Phase(
            label: label, line: line, read_bytes: d.readBytes, write_bytes: d.writeBytes, flops: d.flops,
            tensor_core_flops: d.tensorCoreFlops, time_compute: compute, time_memory: memory,
            time_total: kernel + launchTime(d.launches),
            bound: memory > compute ? "memory" : "compute",
            l2_bytes: gpu.waveQuantisation == true && gpu.l2Bytes > 0 ? d.l2ReadBytes + d.writeBytes : nil,
            launches: gpu.modelsLaunches && d.launches + (grid ? 1 : 0) > 0 ? d.launches + (grid ? 1 : 0) : nil,
            launch_overhead: d.launches > 0 && gpu.modelsLaunches ? launchTime(d.launches) : nil))
    }

    /// The entry kernel's output tensors after a numeric run, by name.
    public private(set) var outputs: [String: OutputTensor] = [:]

    func keepOutputs(_ frame: Frame) {
        guard let numerics else { return }
        for t in frame.kernel.tensors where t.role == .output {
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

    func execStmt(_ s: RStmt, _ f: Frame) throws(SimulationError) {
        try tick()
        switch s.kind {
        case .param(let slot, _, let e):
            if let v = f.overrides[slot] { f.values[slot] = v } else { f.values[slot] = try scalar(e, f) }
        case .tensor(let index, _, let name, let shapeExprs, let dtypeExpr, let valueExprs):
            guard case .dtype(let dtype) = try scalar(dtypeExpr, f) else { throw fail("expected a dtype", dtypeExpr.span) }
            var shape: [Int64] = []
            for e in shapeExprs {
                let n = try int(e, f, "a tensor dimension")
                if n <= 0 { throw fail("dimension \(shape.count) of '\(name)' must be positive, got \(n)", e.span) }
                shape.append(n)
            }
            if let caller = f.bound[index] {
                let t = tensors[caller]
                let fixed = f.views[index]?.count ?? 0
                let seen = Array(t.shape.dropFirst(fixed))
                if seen != shape {
                    guard seen.reduce(1, *) == shape.reduce(1, *) else {
                        let what = fixed == 0 ? fmtShape(t.shape) : "\(fmtShape(seen)) (a view of \(fmtShape(t.shape)))"
                        throw fail("tensor '\(t.name)' of shape \(what) is passed as '\(name)', declared \(fmtShape(shape)) with a different number of elements", s.span)
                    }
                    f.reshapes[index] = shape
                }
                f.tensors[index] = caller
                return
            }
            var elements: Int64 = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                if o || p > (Int64(1) << 62) / 8 { throw fail("'\(name)' \(fmtShape(shape)) has more elements than gpusim can count (2^59)", s.span) }
                elements = p
            }
            let bytes = gpu.bytes(elements, dtype)
            let newCurrent = hbmCurrent + bytes
            if let cap = gpu.hbmBytes, newCurrent > cap {
                throw fail("'\(name)' \(fmtShape(shape)) \(dtype.rawValue) needs \(fmtBytes(bytes)) of HBM\(hbmCurrent > 0 ? " with \(fmtBytes(hbmCurrent)) already allocated" : ""), more than \(gpu.name)'s \(fmtBytes(cap))", s.span)
            }
            tensors.append(Tensor(name: name, shape: shape, dtype: dtype, bytes: bytes))
            f.tensors[index] = tensors.count - 1
            if let numerics {
                guard case .tensor(_, let role, _, _, _, _) = s.kind else { break }
                var initial: [Double]?
                if let valueExprs {
                    let count = shape.reduce(1, *)
                    guard Int64(valueExprs.count) == count else {
                        throw fail("'\(name)' \(fmtShape(shape)) holds \(count) element\(count == 1 ? "" : "s"); its values list has \(valueExprs.count)", s.span)
                    }
                    initial = try valueExprs.map { e throws(SimulationError) in try number(e, f) }
                }
                do { try numerics.allocTensor(tensors.count - 1, name: name, shape: shape, dtype: dtype, role: role, initial: initial) }
                catch { throw fail(error.message, s.span) }
            }
            f.owned.append(tensors.count - 1)
            hbmCurrent = newCurrent
            summary.hbm.peak_bytes = Swift.max(summary.hbm.peak_bytes, hbmCurrent)
            if sink != nil {
                try emit(.alloc, op: "hbm", name: name, rows: shape.count > 1 ? shape[shape.count - 2] : 1, cols: shape.last!, bytes: bytes, flops: 0, duration: 0, s.span)
            }
        case .loop(let parallel, let slot, _, let domain, let body, let uniform):
            // The outermost parallel loop is a grid: its blocks run in waves over the SMs.
            let grid = parallel && parallelDepth == 0 && gpu.waveQuantisation == true
            let gridStart = grid ? tally : nil, sramBase = sramCurrent
            if grid { gridPeak = sramCurrent; shareCache = [:] }
            let blocks = parallel && isInnermostParallel(s, body)
            if parallel { parallelDepth += 1 }
            defer { if parallel { parallelDepth -= 1 } }
            switch domain {
            case .tiles(let extentE, let sizeE):
                let extent = try int(extentE, f, "the extent of tiles(EXTENT, SIZE)")
                let size = try int(sizeE, f, "the tile size")
                if size <= 0 { throw fail("tile size must be positive, got \(size)", sizeE.span) }
                if extent < 0 { throw fail("tile extent must not be negative, got \(extent)", extentE.span) }
                let full = extent / size
                try iterate(count: full + (extent % size == 0 ? 0 : 1), full: full, uniform: uniform, slot: slot, blocks: blocks,
                            gridLevel: parallel && gpu.waveQuantisation == true, body, f, s) { k in
                    let start = k * size
                    return .range(start, extent - start > size ? start + size : extent)
                }
            case .range(let fromE, let toE, let stepE):
                let from = try int(fromE, f, "a loop bound"), to = try int(toE, f, "a loop bound")
                let step = try stepE.map { e throws(SimulationError) in try int(e, f, "a loop step") } ?? 1
                if step <= 0 { throw fail("loop step must be positive, got \(step)", stepE!.span) }
                let count = to > from ? (to - from - 1) / step + 1 : 0
                try iterate(count: count, full: count, uniform: uniform, slot: slot, blocks: blocks,
                            gridLevel: parallel && gpu.waveQuantisation == true, body, f, s) { k in .int(from + k * step) }
            }
            if let gridStart { endGrid(gridStart, sramBase: sramBase) }
        case .ifStmt(let c, let t, let e):
            if try bool(c, f) { try exec(t, f) } else if let e { try exec(e, f) }
        case .repeatLoop(let countE, let body):
            let n = try int(countE, f, "a repeat count")
            if n < 0 { throw fail("repeat count must not be negative, got \(n)", countE.span) }
            try iterate(count: n, full: n, uniform: true, slot: nil, body, f, s) { _ in .none }
        case .load(let slot, let name, let ref):
            let (t, rows, cols, dims) = try slice(ref, f)
            let bytes = gpu.bytes(rows * cols, t.dtype)
            let id = allocTile(rows: rows, cols: cols, dtype: t.dtype, name: name)
            numerics?.load(id, tensor: f.tensors[ref.tensor], shape: numericShape(ref.tensor, f), dims: dims)
            let dram = dramShare(bytes, s, ref)
            try countRead(bytes, tensor: f.tensors[ref.tensor], dram: dram)
            try bind(slot, id, f)
            if sink != nil {
                try emit(.load, op: t.name, name: name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: Double(dram) / memoryRate, s.span, dram: dram)
            }
            try checkOverflow(s.span, name)
        case .gather(let slot, let name, let table, _, let indexE):
            let (idx, temp) = try tile(indexE, f)
            let it = tiles[Int(idx)]
            if it.rows != 1 && it.cols != 1 { throw fail("a gather index is a row or column of ids; got \(fmtTile(it))", indexE.span) }
            let t = tensors[f.tensors[table]]
            let rows = it.rows * it.cols, cols = t.shape[1]
            let bytes = gpu.bytes(rows * cols, t.dtype)
            let id = allocTile(rows: rows, cols: cols, dtype: t.dtype, name: name)
            try countRead(bytes, tensor: f.tensors[table])
            if let numerics {
                do { try numerics.gather(id, tensor: f.tensors[table], index: idx, cols: cols) } catch { throw fail(error.message, indexE.span) }
            }
            if temp { releaseTile(idx, s.span) }
            try bind(slot, id, f)
            if sink != nil {
                try emit(.load, op: t.name, name: name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: Double(bytes) / memoryRate, s.span)
            }
            try checkOverflow(s.span, name)
        case .assign(let slot, let name, let e):
            if case .local(let src) = e.kind, case .tile(let id) = f.values[src] {
                // `X = Y` moves the tile: no copy, no traffic; Y is empty afterwards.
                if src == slot { return }
                f.values[src] = .none
                tiles[Int(id)].name = name
                try bind(slot, id, f)
                return
            }
            let (id, _) = try tile(e, f, name: name)
            tiles[Int(id)].name = name
            try bind(slot, id, f)
        case .update(let slot, let name, let op, let e):
            guard case .tile(let target) = f.values[slot] else { throw fail("'\(name)' has no tile here: it was freed or moved", s.span) }
            let t = tiles[Int(target)]
            let tileOp: TileOp = switch op { case .add: .add; case .sub: .sub; case .mul: .mul; case .div: .div; case .max: .max; case .min: .min }
            if e.isTile {
                let (id, temp) = try tile(e, f)
                let o = tiles[Int(id)]
                guard (o.rows == t.rows || o.rows == 1) && (o.cols == t.cols || o.cols == 1) else {
                    throw fail("cannot update \(fmtTile(t)) '\(name)' with \(fmtTile(o)) using '\(op.rawValue)'", s.span,
                               notes: [.init("the right-hand side must have the same shape, or be (rows x 1) or (1 x cols)")])
                }
                try charge(tileOp, elements: t.rows * t.cols, name: name, rows: t.rows, cols: t.cols, s.span)
                numerics?.update(tileOp, target: target, operand: .tile(id, rows: o.rows, cols: o.cols))
                if temp { releaseTile(id, s.span) }
            } else {
                let v = try number(e, f)
                try charge(tileOp, elements: t.rows * t.cols, name: name, rows: t.rows, cols: t.cols, s.span)
                numerics?.update(tileOp, target: target, operand: .scalar(v))
            }
        case .store(let e, let ref):
            let (id, temp) = try tile(e, f)
            let v = tiles[Int(id)]
            let (t, rows, cols, dims) = try slice(ref, f)
            if !(v.rows == rows && v.cols == cols) {
                throw fail("cannot store a \(fmtTile(v)) tile into \(ref.name)[...], a (\(rows) x \(cols)) slice", s.span)
            }
            let bytes = gpu.bytes(rows * cols, t.dtype)
            try countWrite(bytes, tensor: f.tensors[ref.tensor])
            numerics?.store(id, tensor: f.tensors[ref.tensor], shape: numericShape(ref.tensor, f), dims: dims)
            if sink != nil {
                try emit(.store, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: Double(bytes) / memoryRate, s.span)
            }
            if temp { releaseTile(id, s.span) }
        case .scatter(let e, let table, _, let indexE):
            // A read-modify-write of the addressed rows: every slot is counted, as a fixed-capacity
            // dispatch moves its padding too.
            let (id, temp) = try tile(e, f)
            let (idx, idxTemp) = try tile(indexE, f)
            let v = tiles[Int(id)], it = tiles[Int(idx)]
            if it.rows != 1 && it.cols != 1 { throw fail("a scatter index is a row or column of ids; got \(fmtTile(it))", indexE.span) }
            let t = tensors[f.tensors[table]]
            let rows = it.rows * it.cols, cols = t.shape[1]
            if !(v.rows == rows && v.cols == cols) {
                throw fail("cannot scatter a \(fmtTile(v)) tile by \(rows) ids into rows of \(t.name), which have \(cols) columns", s.span)
            }
            let bytes = gpu.bytes(rows * cols, t.dtype)
            try countRead(bytes, tensor: f.tensors[table])
            try charge(.add, elements: rows * cols, name: t.name, rows: rows, cols: cols, s.span)
            try countWrite(bytes, tensor: f.tensors[table])
            if let numerics {
                do { try numerics.scatter(id, tensor: f.tensors[table], index: idx, cols: cols) } catch { throw fail(error.message, indexE.span) }
            }
            if sink != nil {
                try emit(.load, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: Double(bytes) / memoryRate, s.span)
                try emit(.store, op: t.name, name: v.name, rows: rows, cols: cols, bytes: bytes, flops: 0, duration: Double(bytes) / memoryRate, s.span)
            }
            if idxTemp { releaseTile(idx, s.span) }
            if temp { releaseTile(id, s.span) }
        case .free(let slots):
            for slot in slots {
                guard case .tile = f.values[slot] else {
                    throw fail("'\(f.kernel.slotNames[slot])' has no tile to free: it was already freed or moved", s.span)
                }
                freeSlot(slot, f, s.span)
            }
        case .freeTensors(let locals, let names):
            for (local, name) in zip(locals, names) {
                let id = f.tensors[local]
                if let at = tensors[id].freedAt { throw fail("'\(name)' was already freed", s.span, notes: [.init("freed here", at: at)]) }
                releaseTensor(id)
                tensors[id].freedAt = s.span
                f.owned.removeAll { $0 == id }
                if sink != nil { try emit(.free, op: "hbm", name: name, rows: 0, cols: 0, bytes: tensors[id].bytes, flops: 0, duration: 0, s.span) }
            }
        case .require(let c, let message):
            if try !bool(c, f) {
                throw fail("requirement failed: \(message)", c.span, notes: [.init("with \(describeParams(f))")])
            }
        case .launch(let k, let name, let params, let tensorArgs):
            let callee = program.kernels[k]
            var overrides: [Int: Value] = [:]
            for p in params { overrides[callee.params[p.slot].slot] = try scalar(p.value, f) }
            var bound: [Int: Int] = [:]
            var views: [Int: [Int64]] = [:]
            for (calleeIndex, callerIndex, indices) in tensorArgs {
                let calleeTensor = callee.tensors[calleeIndex].index
                let base = f.tensors[callerIndex]
                bound[calleeTensor] = base
                var fixed = f.views[callerIndex] ?? []
                for ix in indices {
                    let v = try int(ix, f, "a view index")
                    let size = tensors[base].shape[fixed.count]
                    if v < 0 || v >= size { throw fail("view index \(v) is out of bounds for dimension \(fixed.count) of '\(tensors[base].name)' (size \(size))", ix.span) }
                    fixed.append(v)
                }
                if !fixed.isEmpty { views[calleeTensor] = fixed }
            }
            tally.launches += 1
            if sink != nil { try emit(.launch, op: "kernel", name: name, rows: 0, cols: 0, bytes: 0, flops: 0, duration: 0, s.span) }
            let before = (tally.readBytes, tally.writeBytes, tally.flops, tally.tensorCoreFlops, tally.idleTensorCoreFlops, tally.idleVectorFlops)
            let launchStart = gpu.modelsLaunches && isGPUKernel(k) ? tally : nil
            let frame = Frame(kernel: callee, overrides: overrides, bound: bound)
            frame.views = views
            // Grid coordinates are the caller's loop slots: the callee's loads must not read them.
            let callerLevels = gridLevels
            gridLevels = []
            defer { gridLevels = callerLevels }
            try runKernel(frame, isEntry: false)
            tally.bump(.kernelLaunches, k, by: 1)
            tally.bump(.kernelRead, k, by: tally.readBytes - before.0)
            tally.bump(.kernelWrite, k, by: tally.writeBytes - before.1)
            tally.bump(.kernelFlops, k, by: tally.flops - before.2)
            tally.bump(.kernelTensorCoreFlops, k, by: tally.tensorCoreFlops - before.3)
            tally.bump(.kernelIdleTensorCoreFlops, k, by: tally.idleTensorCoreFlops - before.4)
            tally.bump(.kernelIdleVectorFlops, k, by: tally.idleVectorFlops - before.5)
            if let launchStart {
                // A GPU kernel's own time: its compute and memory overlap within the launch only.
                let d = tally - launchStart
                let fs = Int64((kernelTime(of: d) * 1e15).rounded())
                tally.kernelFemtoseconds += fs
                tally.bump(.kernelFemtoseconds, k, by: fs)
                tally.launchedBytes += d.readBytes + d.writeBytes
                tally.launchedFlops += d.effectiveFlops
                tally.launchedTensorCoreFlops += d.effectiveTensorCoreFlops
            }
        }
    }

    /// Whether kernel `k` is a GPU kernel (it launches no others); memoised.
    func isGPUKernel(_ k: Int) -> Bool {
        if let v = gpuKernel[k] { return v }
        let v = !Self.launchesOthers(program.kernels[k].body)
        gpuKernel[k] = v
        return v
    }

    /// Runs `count` iterations, the first `full` of which are alike (the rest is a ragged tile).
    /// Fast-forward: when the loop is uniform and the second iteration leaves the machine in the
    /// state it found it (the same tiles bound, the same occupancy), every later full iteration
    /// would repeat it exactly, so its counter difference is added for each skipped one. The last
    /// full iteration still runs, so bounds checks see the largest start.
    func iterate(count: Int64, full: Int64, uniform: Bool, slot: Int?, blocks: Bool = false, gridLevel: Bool = false,
                 _ body: RBlock, _ f: Frame, _ loop: RStmt, value: (Int64) -> Value) throws(SimulationError) {
        var k: Int64 = 0
        if gridLevel, let slot { gridLevels.append((slot, count)) }
        defer { if gridLevel && slot != nil { gridLevels.removeLast() } }
        let name = slot.map { f.kernel.slotNames[$0] } ?? "repeat"
        loopDepth += 1
        defer { loopDepth -= 1 }
        func one(_ k: Int64) throws(SimulationError) {
            if loopDepth == 1, let progress { progress(Double(k) / Double(max(count, 1))) }
            if let slot { f.values[slot] = value(k) }
            if sink != nil { try emit(.iteration, op: "loop", name: name, rows: k, cols: count, bytes: 0, flops: 0, duration: 0, loop.span) }
            if blocks { tally.blocks += 1 }
            try exec(body, f)
        }
        if uniform && fastForward && numerics == nil && full >= 4 {
            try one(0)
            let before = stateSignature(f), t0 = tally
            // With an event sink, record the second iteration's events to replay for the skipped ones.
            let outer = recording
            if sink != nil { recording = [] }
            try one(1)
            var recorded = recording ?? []
            recording = outer.map { $0 + recorded }
            if stateSignature(f) == before {
                let delta = tally - t0
                if sink != nil {
                    for skipped in 2..<(full - 1) { try replay(&recorded, iteration: skipped, from: t0) ; try tally.add(delta, times: 1) }
                } else {
                    try tally.add(delta, times: full - 3)
                }
                try one(full - 1)
                k = full
            } else {
                k = 2
            }
        }
        while k < count { try one(k); k += 1 }
        if let slot { f.values[slot] = .none }
    }

    /// The shape slices of a local tensor are laid out in: the underlying tensor's, or, for a
    /// reshaped binding, its fixed leading dimensions followed by the declared shape.
    func numericShape(_ local: Int, _ f: Frame) -> [Int64] {
        let t = tensors[f.tensors[local]]
        guard let r = f.reshapes[local] else { return t.shape }
        return Array(t.shape.prefix(f.views[local]?.count ?? 0)) + r
    }

    /// What an iteration could carry into the next: bound tiles' shapes and the occupancies.
    /// Ends a grid: B blocks ran in waves of (SMs x blocks per SM), blocks per SM from the
    /// SRAM one block used (at most 32, the resident-block limit of A100 and H100). The idle
    /// slots of the last wave are charged as compute the grid could have done in them.
    func endGrid(_ start: Tally, sramBase: Int64) {
        let b = tally.blocks - start.blocks
        guard b > 0 else { return }
        let perSM = Swift.min(32, Swift.max(1, gpu.sramBytes / Swift.max(1, gridPeak - sramBase)))
        let wave = Int64(Swift.max(1, gpu.sms)) * perSM
        let spare = (b + wave - 1) / wave * wave - b
        guard spare > 0 else { return }
        let tc = tally.tensorCoreFlops - start.tensorCoreFlops, vec = tally.flops - start.flops - tc
        func share(_ x: Int64) -> Int64 {
            let (p, o) = x.multipliedReportingOverflow(by: spare)
            return o ? Int64((Double(x) * Double(spare) / Double(b)).rounded()) : p / b
        }
        tally.idleTensorCoreFlops &+= share(tc)
        tally.idleVectorFlops &+= share(vec)
    }

    func isInnermostParallel(_ s: RStmt, _ body: RBlock) -> Bool {
        let key = s.span.start ^ (ObjectIdentifier(s.span.file).hashValue << 20)
        if let v = innermostParallel[key] { return v }
        func hasParallel(_ b: RBlock) -> Bool {
            b.stmts.contains { st in
                switch st.kind {
                case .loop(let p, _, _, _, let inner, _): return p || hasParallel(inner)
                case .ifStmt(_, let t, let e): return hasParallel(t) || (e.map(hasParallel) ?? false)
                case .repeatLoop(_, let inner): return hasParallel(inner)
                default: return false
                }
            }
        }
        let v = !hasParallel(body)
        innermostParallel[key] = v
        return v
    }

    /// Whether a block launches other kernels (then it is not a GPU kernel itself).
    static func launchesOthers(_ b: RBlock) -> Bool {
        b.stmts.contains { st in
            switch st.kind {
            case .launch: return true
            case .loop(_, _, _, _, let inner, _), .repeatLoop(_, let inner): return launchesOthers(inner)
            case .ifStmt(_, let t, let e): return launchesOthers(t) || (e.map(launchesOthers) ?? false)
            default: return false
            }
        }
    }

    func stateSignature(_ f: Frame) -> [Int64] {
        var sig: [Int64] = [sramCurrent, hbmCurrent]
        for (i, v) in f.values.enumerated() {
            if case .tile(let id) = v {
                let t = tiles[Int(id)]
                sig += [Int64(i), t.rows, t.cols, Int64(t.dtype.bits)]
            }
        }
        return sig
    }

    func describeParams(_ f: Frame) -> String {
        f.kernel.params.compactMap { p -> String? in
            switch f.values[p.slot] { case .none: return nil; default: return "\(p.name) = \(paramValue(f.values[p.slot]))" }
        }.joined(separator: ", ")
    }

    // MARK: memory

    func bind(_ slot: Int, _ id: Int32, _ f: Frame) throws(SimulationError) {
        if case .tile(let old) = f.values[slot], old != id { releaseTile(old, nil) }
        f.values[slot] = .tile(id)
    }

    func allocTile(rows: Int64, cols: Int64, dtype: DType, name: String) -> Int32 {
        let t = Tile(rows: rows, cols: cols, dtype: dtype, bytes: gpu.bytes(rows * cols, dtype), name: name, live: true)
        sramCurrent += t.bytes
        if sramCurrent > summary.sram.peak_bytes { summary.sram.peak_bytes = sramCurrent }
        if parallelDepth > 0 && sramCurrent > gridPeak { gridPeak = sramCurrent }
        if let id = freeTiles.popLast() { tiles[Int(id)] = t; return id }
        tiles.append(t)
        return Int32(tiles.count - 1)
    }

    func checkOverflow(_ span: Span, _ name: String) throws(SimulationError) {
        guard sramCurrent > gpu.sramBytes else { return }
        let over = sramCurrent - gpu.sramBytes
        tally.overflows += 1
        summary.sram.max_overflow_bytes = Swift.max(summary.sram.max_overflow_bytes, over)
        if summary.sram.first_overflow == nil { summary.sram.first_overflow = span.description }
        if sink != nil { try emit(.overflow, op: "sram", name: name, rows: 0, cols: 0, bytes: over, flops: 0, duration: 0, span) }
    }

    func releaseTile(_ id: Int32, _ span: Span?) {
        let t = tiles[Int(id)]
        guard t.live else { return }
        tiles[Int(id)].live = false
        sramCurrent -= t.bytes
        numerics?.free(id)
        freeTiles.append(id)
        if sink != nil, let span { try? emit(.free, op: "sram", name: t.name, rows: t.rows, cols: t.cols, bytes: t.bytes, flops: 0, duration: 0, span) }
    }

    func freeSlot(_ slot: Int, _ f: Frame, _ span: Span?) {
        guard case .tile(let id) = f.values[slot] else { return }
        f.values[slot] = .none
        releaseTile(id, span ?? f.kernel.span)
    }

    func releaseTensor(_ id: Int) {
        hbmCurrent -= tensors[id].bytes
    }

    /// Counts a read of `bytes` that the SMs request, of which `dram` come from HBM (the rest
    /// are L2 hits).
    func countRead(_ bytes: Int64, tensor: Int, dram: Int64? = nil) throws(SimulationError) {
        let fromHBM = dram ?? bytes
        let (v, o) = tally.readBytes.addingReportingOverflow(fromHBM)
        if o { throw .input("HBM read bytes overflowed a 64-bit counter") }
        tally.readBytes = v
        tally.l2ReadBytes &+= bytes
        tally.loads += 1
        tally.bump(.tensorRead, tensor, by: fromHBM)
    }

    /// The HBM bytes of a load inside a grid. The blocks of a wave (one per SM) run in step, so a
    /// tile that several of them load at the same step comes from HBM once and from L2 for the
    /// rest: a wave fetches a load once per distinct value of the grid coordinates its slice
    /// depends on (GEMM: X[i, k] once per block row, W[k, j] once per block column; attention:
    /// K and V tiles once per head). Nothing stays in L2 across a block's own iterations or
    /// across waves, so private re-reads (FlashAttention's Q and O) still go to HBM.
    func dramShare(_ bytes: Int64, _ s: RStmt, _ ref: RTensorRef) -> Int64 {
        guard !gridLevels.isEmpty, gpu.l2Bytes > 0, bytes > 0 else { return bytes }
        let key = s.span.start &* 31 &+ gridLevels.count
        let share: (fetches: Int64, blocks: Int64)
        if let c = shareCache[key] { share = c } else {
            var used = Set<Int>()
            func walk(_ e: RExpr) {
                switch e.kind {
                case .local(let slot):
                    if let level = gridLevels.firstIndex(where: { $0.slot == slot }) { used.insert(level) }
                case .rangeMember(let a, _), .tileMember(let a, _), .transposed(let a), .unary(_, let a): walk(a)
                case .call(_, let args): args.forEach(walk)
                case .binary(_, let a, let b): walk(a); walk(b)
                default: break
                }
            }
            for slice in ref.slices ?? [] {
                switch slice {
                case .all: break
                case .index(let e): walk(e)
                case .range(let a, let b): walk(a); walk(b)
                }
            }
            share = Self.waveFetches(levels: gridLevels.map(\.count), dims: used, wave: Int64(Swift.max(1, gpu.sms)))
            shareCache[key] = share
        }
        guard share.blocks > 0, share.fetches < share.blocks else { return bytes }
        let (p, o) = bytes.multipliedReportingOverflow(by: share.fetches)
        return o ? Int64((Double(bytes) * Double(share.fetches) / Double(share.blocks)).rounded()) : p / share.blocks
    }

    /// Over the waves of a grid (blocks in row-major order of `levels`, `wave` at a time), the
    /// number of distinct block coordinates on `dims` summed over waves, and the block count.
    static func waveFetches(levels c: [Int64], dims: Set<Int>, wave: Int64) -> (fetches: Int64, blocks: Int64) {
        let n = c.count
        var b: Int64 = 1
        for x in c { let (p, o) = b.multipliedReportingOverflow(by: x); if o { return (1, 1) }; b = p }
        guard b > 0 else { return (0, 0) }
        if dims.count == n { return (b, b) }
        let sorted = dims.sorted()
        let suffix = sorted == Array((n - dims.count)..<n), prefix = sorted == Array(0..<dims.count)
        var span: Int64 = 1   // distinct coordinates on dims
        for d in dims { span *= c[d] }
        var inner: Int64 = 1  // blocks per step of the last dim in a prefix
        for d in dims.count..<n { inner *= c[d] }
        var fetches: Int64 = 0, s: Int64 = 0
        while s < b {
            let e = Swift.min(b, s + wave)
            if dims.isEmpty { fetches += 1 }
            else if suffix { fetches += Swift.min(e - s, span) }
            else if prefix { fetches += (e - 1) / inner - s / inner + 1 }
            else { fetches += Swift.min(e - s, span) }   // other shapes: at most one per coordinate
            s = e
        }
        return (fetches, b)
    }

    func countWrite(_ bytes: Int64, tensor: Int) throws(SimulationError) {
        let (v, o) = tally.writeBytes.addingReportingOverflow(bytes)
        if o { throw .input("HBM write bytes overflowed a 64-bit counter") }
        tally.writeBytes = v
        tally.stores += 1
        tally.bump(.tensorWrite, tensor, by: bytes)
    }

    /// Charges an elementwise/reduction op's FLOPs and time (no allocation).
    func charge(_ op: TileOp, elements: Int64, name: String, rows: Int64, cols: Int64, _ span: Span) throws(SimulationError) {
        let (flops, o) = elements.multipliedReportingOverflow(by: Int64(weights[op.rawValue]))
        if o { throw fail("FLOP count overflowed a 64-bit counter", span) }
        try tally.addFlops(flops, special: op.isSpecial)
        tally.computes += 1
        let dt = Double(flops) / (gpu.vectorFlops * gpu.computeEfficiency)
        if sink != nil { try emit(.compute, op: op.key, name: name, rows: rows, cols: cols, bytes: 0, flops: flops, duration: dt, span) }
    }


    // MARK: events

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
        let overhead = gpu.launchOverhead ?? 0, entry = entryLaunches
        var n0 = seq
        defer { seq = n0 }
        try recorded.withUnsafeMutableBufferPointer { (r) throws(SimulationError) in
            for n in r.indices {
                n0 += 1
                // Replayed events run no statements, so the wall-time limit is checked here too.
                if n0 & 0xFFFF == 0, let deadline, Date() > deadline { throw timedOut }
                let bytes = r[n].bytes + dBytes, flops = r[n].flops + dFlops, tensor = r[n].tensorCoreFlops + dTensor
                let launches = r[n].launches + dLaunches
                let compute = computeTime(flops: flops, tensorCore: tensor), memory = Double(bytes) / memoryRate
                r[n].event.seq = n0
                r[n].event.time = gpu.compose(compute: compute, memory: memory) + Double(launches + entry) * overhead
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

/// An output tensor's values after a numeric run.
public struct OutputTensor: Sendable {
    public var shape: [Int64]
    public var dtype: DType
    public var values: [Double]
}

func fmtShape(_ s: [Int64]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
func fmtTile(_ t: Interpreter.Tile) -> String { "(\(t.rows) x \(t.cols))" }

/// Human byte sizes in decimal units, as GPU datasheets print them.
public func fmtBytes(_ b: Int64) -> String {
    let v = Double(b)
    let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
    for (scale, name) in units where v >= scale {
        let x = v / scale
        return (x >= 100 ? String(format: "%.0f", x) : x >= 10 ? String(format: "%.1f", x) : String(format: "%.2f", x)) + " " + name
    }
    return "\(b) B"
}
