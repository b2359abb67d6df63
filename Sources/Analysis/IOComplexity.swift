import Foundation
import KernLang
import Simulator

/// Closed-form HBM reads and writes, FLOPs and peak SRAM of a kernel, derived by walking its
/// loop nest once with symbolic sizes: a tile loop `tiles(E, T)` turns a body cost that does
/// not depend on the tile's length into `ceil(E/T)` copies, one linear in the length into E,
/// and higher powers into `floor(E/T) T^k + (E mod T)^k`. Exact for every size; checked
/// against simulation by `gpusim complexity`.
public struct IOComplexity {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Bytes-valued results (elements x the preset's bytes per element of each tensor/tile).
    public var readBytes = Poly()
    public var writeBytes = Poly()
    public var flops = Poly()
    /// Candidates for peak SRAM bytes (the live set at each allocation, tiles at full size).
    public var peakCandidates: [Poly] = []
    /// Derived atoms ("ceil(N/Br)" -> ceil of N over Br) and the arithmetic of the cost rules.
    public let atoms = SymbolicAtoms()
    /// The byte and FLOP rules the simulator uses, over polynomials.
    let cost: CostRules<SymbolicAtoms>
    public var sizeParameter: String?

    enum Value {
        case poly(Poly)
        case len(String)
        case tile(rows: Poly, cols: Poly, dtype: DType)
        case dtype(DType)
        case none
    }

    struct Frame {
        let kernel: CheckedKernel
        var values: [Value]
        var tensors: [Int: (shape: [Poly], dtype: DType)]
        var bound: [Int: (shape: [Poly], dtype: DType)]
        var args: [Int: Value]
        var prefix: String
    }

    let program: CheckedProgram
    let gpu: GPUModel
    let concrete: [String: ParamValue]
    var live: [Poly] = []
    var lenFull: [String: Poly] = [:]
    /// Entry-kernel parameters with a plain integer value (given, or their literal default): a
    /// condition on them alone (a `causal` switch) picks its branch.
    var flags: [String: Int64] = [:]

    /// Derives the formulas for `program`'s entry kernel; dtype parameters take their values
    /// from `params` (the resolved parameters of a run), every number stays symbolic.
    public static func derive(program: CheckedProgram, gpu: GPUModel, params: [String: ParamValue]) throws(Failure) -> IOComplexity {
        var c = IOComplexity(program: program, gpu: gpu, concrete: params)
        let k = program.entryKernel
        var f = Frame(kernel: k, values: Array(repeating: .none, count: k.slotNames.count), tensors: [:], bound: [:], args: [:], prefix: "")
        let cost = try c.block(k.body, &f)
        c.readBytes = cost.0; c.writeBytes = cost.1; c.flops = cost.2
        c.sizeParameter = k.params.first { $0.name == "N" }?.name ?? k.params.first { $0.name == "T" }?.name ?? k.params.first?.name
        c.prune()
        return c
    }

    init(program: CheckedProgram, gpu: GPUModel, concrete: [String: ParamValue]) {
        self.program = program; self.gpu = gpu; self.concrete = concrete
        cost = CostRules(gpu: gpu, math: atoms)
    }

    func fail(_ message: String, _ span: Span) -> Failure { Failure(description: "\(span.description): \(message)") }

    /// Bytes of a (rows x cols) tile of `dtype`, as the simulator counts them.
    func bytes(_ rows: Poly, _ cols: Poly, _ dtype: DType) -> Poly { cost.bytes(elements: rows * cols, dtype) }

    // MARK: expressions

    /// An expression as a polynomial in the parameters. With `positions`, a tile range's .start
    /// and .end are atoms of their own (`@start(i)`, and start + len): a caller that takes a
    /// difference (a slice's length) checks that they cancel (see `length`).
    func poly(_ e: RExpr, _ f: Frame, positions: Bool = false) throws(Failure) -> Poly {
        func poly(_ e: RExpr, _ f: Frame) throws(Failure) -> Poly { try self.poly(e, f, positions: positions) }
        switch e.kind {
        case .int(let v): return Poly(v)
        case .float(let v):
            guard v == v.rounded(), abs(v) < 9e15 else { throw fail("a non-integer number in a size", e.span) }
            return Poly(Int64(v))
        case .local(let s):
            switch f.values[s] {
            case .poly(let p): return p
            case .len: throw fail("a tile's position enters a size or a cost (only .len is position-independent)", e.span)
            default: throw fail("'\(f.kernel.slotNames[s])' is not a number here", e.span)
            }
        case .rangeMember(let r, let m):
            guard case .local(let s) = r.kind, case .len(let atom) = f.values[s], m == .len || positions else {
                throw fail("costs that depend on where a tile starts (.start, .end) have no closed form here", e.span)
            }
            let start = Poly(atom: Self.positionMark + "(\(atom))")
            return m == .len ? Poly(atom: atom) : m == .start ? start : start + Poly(atom: atom)
        case .tileMember(let t, let m):
            guard case .local(let s) = t.kind, case .tile(let r, let c, _) = f.values[s] else { throw fail("expected a tile", e.span) }
            return m == .rows ? r : c
        case .gpu(let fact): return Poly(atom: "gpu.\(fact.rawValue)")
        case .unary(.neg, let a): return -(try poly(a, f))
        case .binary(let op, let a, let b) where op == .add || op == .sub || op == .mul:
            let x = try poly(a, f), y = try poly(b, f)
            return op == .add ? x + y : op == .sub ? x - y : x * y
        case .binary(let op, let a, let b) where op == .floorDiv || op == .mod:
            return atoms.derived(op == .floorDiv ? "floor" : "mod", try poly(a, f), try poly(b, f))
        case .call(.cdiv, let args):
            return atoms.derived("ceil", try poly(args[0], f), try poly(args[1], f))
        default:
            throw fail("this expression is not a polynomial in the parameters", e.span)
        }
    }

    static let positionMark = "@start"

    /// The length b - a of a slice `a ..< b`, which may sit anywhere (`X + i.start ..< X + i.end`)
    /// as long as where does not change how long it is.
    func length(_ a: RExpr, _ b: RExpr, _ f: Frame) throws(Failure) -> Poly {
        let n = try poly(b, f, positions: true) - poly(a, f, positions: true)
        if n.atoms.contains(where: { $0.contains(Self.positionMark) }) {
            throw fail("costs that depend on where a tile starts (.start, .end) have no closed form here", b.span)
        }
        return n
    }

    /// A condition's value when parameter values alone decide it (`causal == 0 || j.start < i.end`
    /// with causal = 0), else nil: the cost then depends on positions.
    func decide(_ e: RExpr, _ f: Frame) -> Bool? {
        func value(_ e: RExpr) -> Int64? {
            switch e.kind {
            case .int(let v): return v
            case .local(let s) where f.prefix.isEmpty: return flags[f.kernel.slotNames[s]]
            case .unary(.neg, let a): return value(a).map { -$0 }
            case .binary(let op, let a, let b) where op == .add || op == .sub || op == .mul:
                guard let x = value(a), let y = value(b) else { return nil }
                return op == .add ? x &+ y : op == .sub ? x &- y : x &* y
            default: return nil
            }
        }
        switch e.kind {
        case .bool(let v): return v
        case .binary(.or, let a, let b):
            let x = decide(a, f)
            if x == true { return true }
            let y = decide(b, f)
            return y == true ? true : x == false ? y : nil
        case .binary(.and, let a, let b):
            let x = decide(a, f)
            if x == false { return false }
            let y = decide(b, f)
            return y == false ? false : x == true ? y : nil
        case .binary(let op, let a, let b):
            guard let x = value(a), let y = value(b) else { return nil }
            switch op {
            case .eq: return x == y
            case .ne: return x != y
            case .lt: return x < y
            case .le: return x <= y
            case .gt: return x > y
            case .ge: return x >= y
            default: return nil
            }
        default: return nil
        }
    }

    func dtype(_ e: RExpr, _ f: Frame) throws(Failure) -> DType {
        switch e.kind {
        case .dtype(let d): return d
        case .local(let s): if case .dtype(let d) = f.values[s] { return d }
        default: break
        }
        throw fail("expected a dtype", e.span)
    }

    static func atomName(_ p: Poly) -> String {
        if let c = p.constant { return "\(c)" }
        let s = p.description
        return p.terms.count == 1 && p.terms.first!.value == 1 ? s : "(\(s))"
    }

    // MARK: statements: each returns (read bytes, write bytes, flops)

    typealias Cost = (Poly, Poly, Poly)

    /// A tile expression's result: its shape and dtype, the FLOPs it took, and whether it is a
    /// temporary the caller drops.
    struct SymTile {
        var rows: Poly, cols: Poly, dtype: DType
        var flops = Poly()
        var temp = false
    }

    mutating func block(_ b: RBlock, _ f: inout Frame) throws(Failure) -> Cost {
        var total: Cost = (Poly(), Poly(), Poly())
        let liveBefore = live.count
        for s in b.stmts {
            let c = try stmt(s, &f)
            total = (total.0 + c.0, total.1 + c.1, total.2 + c.2)
            for slot in s.freeAfter { freeSlot(slot, &f) }
        }
        for slot in b.locals { freeSlot(slot, &f) }
        live.removeSubrange(min(liveBefore, live.count)..<live.count)
        return total
    }

    mutating func freeSlot(_ slot: Int, _ f: inout Frame) {
        guard case .tile(let r, let c, let d) = f.values[slot] else { return }
        f.values[slot] = .none
        let size = bytes(r, c, d)
        if let i = live.lastIndex(of: size) { live.remove(at: i) }
    }

    mutating func alloc(_ size: Poly) {
        live.append(size)
        var sum = Poly()
        for p in live { sum = sum + p }
        // A nested tile's full length may name its outer tile's (`tiles(i.len, BM)`): one pass per level.
        for _ in 0..<lenFull.count { for (atom, full) in lenFull { sum = atoms.substitute(sum, atom, full) } }
        if !peakCandidates.contains(sum) { peakCandidates.append(sum) }
    }

    mutating func bind(_ slot: Int, _ v: Value, _ f: inout Frame) {
        freeSlot(slot, &f)
        f.values[slot] = v
    }

    mutating func slice(_ r: RTensorRef, _ f: Frame) throws(Failure) -> (Poly, Poly, DType) {
        guard let t = f.tensors[r.tensor] else { throw fail("unknown tensor", r.span) }
        guard let slices = r.slices else {
            return (t.shape.count == 2 ? t.shape[0] : Poly(1), t.shape.last!, t.dtype)
        }
        var kept: [Poly] = []
        for (d, s) in slices.enumerated() {
            switch s {
            case .all: kept.append(t.shape[d])
            case .range(let a, let b): kept.append(try length(a, b, f))
            case .index(let e):
                if case .local(let slot) = e.kind, case .len(let atom) = f.values[slot] { kept.append(Poly(atom: atom)) }
                else if case .local(let slot) = e.kind, case .none = f.values[slot] { }   // a loop index: which one does not change the size
                else { _ = try poly(e, f) }   // an integer index drops the dimension
            }
        }
        switch kept.count {
        case 0: return (Poly(1), Poly(1), t.dtype)
        case 1: return (Poly(1), kept[0], t.dtype)
        default: return (kept[0], kept[1], t.dtype)
        }
    }

    /// A new tile: allocated (a peak candidate) and returned as a temporary.
    mutating func made(_ rows: Poly, _ cols: Poly, _ dtype: DType, flops: Poly) -> SymTile {
        alloc(bytes(rows, cols, dtype))
        return SymTile(rows: rows, cols: cols, dtype: dtype, flops: flops, temp: true)
    }

    /// A tile expression: its shape, dtype, FLOPs; allocates like the interpreter.
    mutating func tileExpr(_ e: RExpr, _ f: inout Frame) throws(Failure) -> SymTile {
        switch e.kind {
        case .local(let s):
            guard case .tile(let r, let c, let d) = f.values[s] else { throw fail("not a tile here", e.span) }
            return SymTile(rows: r, cols: c, dtype: d)
        case .transposed(let a):
            var t = try tileExpr(a, &f)
            (t.rows, t.cols) = (t.cols, t.rows)
            return t
        case .binary(.matmul, let a, let bb):
            let x = try tileExpr(a, &f), y = try tileExpr(bb, &f)
            let out = made(x.rows, y.cols, x.dtype, flops: cost.matmulFlops(m: x.rows, n: y.cols, k: x.cols) + x.flops + y.flops)
            for t in [x, y] where t.temp { dropTemp(t) }
            return out
        case .binary(let op, let a, let b):
            let tileOp: TileOp = switch op { case .add: .add; case .sub: .sub; case .mul: .mul; default: .div }
            return try elementwise(tileOp, [a, b], &f)
        case .unary(_, let a):
            return try elementwise(.neg, [a], &f)
        case .call(let fn, let args):
            guard let spec = OpSpec.of(fn) else { throw fail("'\(fn.rawValue)' has no symbolic cost", e.span) }
            if case .broadcast = spec.shape { return try elementwise(spec.cost, args, &f) }
            var source: SymTile?
            if case .source = spec.shape { source = try tileExpr(args[0], &f) }
            let frame = f
            let shape = try spec.result(
                source: source.map { ($0.rows, $0.cols, $0.dtype) }, one: Poly(1),
                number: { (i: Int) throws(Failure) -> Poly in try poly(args[i], frame) },
                length: { (i: Int) throws(Failure) -> Poly in
                    guard case .local(let slot) = args[i].kind, case .len(let atom) = frame.values[slot] else {
                        throw fail("\(fn.rawValue)'s \(fn.argumentName(i)) must be a loop variable of tiles()", args[i].span)
                    }
                    return Poly(atom: atom)
                },
                dtype: { (i: Int) throws(Failure) -> DType in i < args.count ? try dtype(args[i], frame) : .f32 })
            var gates: SymTile?
            if fn == .dispatch_gate { gates = try tileExpr(args[1], &f) }
            let charged = source.map { $0.rows * $0.cols } ?? shape.rows * shape.cols
            let out = made(shape.rows, shape.cols, shape.dtype,
                           flops: cost.flops(spec.cost, elements: charged) + (source?.flops ?? Poly()) + (gates?.flops ?? Poly()))
            if spec.scratch, let s = source { alloc(bytes(s.rows, s.cols, shape.dtype)); live.removeLast() }
            for t in [gates, source].compactMap({ $0 }) where t.temp { dropTemp(t) }
            return out
        default:
            throw fail("expected a tile expression", e.span)
        }
    }

    mutating func dropTemp(_ t: SymTile) {
        let size = bytes(t.rows, t.cols, t.dtype)
        if let i = live.lastIndex(of: size) { live.remove(at: i) }
    }

    mutating func elementwise(_ op: TileOp, _ args: [RExpr], _ f: inout Frame) throws(Failure) -> SymTile {
        var shapes: [(Poly, Poly)] = [], temps: [SymTile] = []
        var flops = Poly(), dtype: DType?
        for a in args where a.isTile {
            let t = try tileExpr(a, &f)
            shapes.append((t.rows, t.cols)); flops = flops + t.flops
            if dtype == nil { dtype = t.dtype }
            if t.temp { temps.append(t) }
        }
        // Broadcasting: the larger operand's shape (a (rows x 1) or (1 x cols) side is smaller).
        let rows = shapes.map(\.0).first { $0 != Poly(1) } ?? Poly(1)
        let cols = shapes.map(\.1).first { $0 != Poly(1) } ?? Poly(1)
        let out = made(rows, cols, dtype ?? .f32, flops: flops + cost.flops(op, elements: rows * cols))
        for t in temps { dropTemp(t) }
        return out
    }

    mutating func stmt(_ s: RStmt, _ f: inout Frame) throws(Failure) -> Cost {
        let zero = Poly()
        switch s.kind {
        case .param(let slot, let name, let e):
            if let v = f.args[slot] { f.values[slot] = v; return (zero, zero, zero) }
            if case .dtype(let d)? = f.prefix.isEmpty ? concrete[name] : nil { f.values[slot] = .dtype(d.isEmpty ? .f32 : DType(rawValue: d) ?? .f32); return (zero, zero, zero) }
            if case .dtype(let d) = e.kind { f.values[slot] = .dtype(d); return (zero, zero, zero) }
            if f.prefix.isEmpty {
                if case .int(let v)? = concrete[name] { flags[name] = v } else if case .int(let v) = e.kind { flags[name] = v }
                f.values[slot] = .poly(Poly(atom: name))
                return (zero, zero, zero)
            }
            if let p = try? poly(e, f) { f.values[slot] = .poly(p) } else { f.values[slot] = .poly(Poly(atom: f.prefix + name)) }
        case .tensor(let index, _, _, let shape, let dt, _):
            if let b = f.bound[index] {
                // A reshaped binding (same size, declared shape differs) is read in the declared shape.
                var dims: [Poly] = []
                for d in shape { if let p = try? poly(d, f) { dims.append(p) } }
                f.tensors[index] = dims.count == shape.count ? (dims, b.dtype) : b
                return (zero, zero, zero)
            }
            var dims: [Poly] = []
            for d in shape { dims.append(try poly(d, f)) }
            f.tensors[index] = (dims, try dtype(dt, f))
        case .loop(_, let slot, let name, let domain, let body, _):
            switch domain {
            case .tiles(let ee, let te):
                let E = try poly(ee, f), T = try poly(te, f)
                let atom = "#" + f.prefix + name
                f.values[slot] = .len(atom)
                // A full tile, or the whole extent when it is smaller than one tile.
                lenFull[atom] = atoms.derived("min", E, T)
                let c = try block(body, &f)
                lenFull[atom] = nil
                f.values[slot] = .none
                let ceilE = atoms.derived("ceil", E, T), floorE = atoms.derived("floor", E, T), modE = atoms.derived("mod", E, T)
                // Sum over the tiles of a cost in the tile's length: floor(E/T) full tiles and one of
                // (E mod T) (a cost that is 0 at length 0 needs no case for E mod T = 0).
                func sum(_ p: Poly) throws(Failure) -> Poly {
                    var out = Poly(), opaque = Poly()
                    for (m, v) in p.terms where m.keys.contains(where: { $0 != atom && atoms.depends($0, on: atom) }) {
                        opaque = opaque + Poly(terms: [m: v])
                    }
                    if !opaque.isZero {
                        // Bytes rounded up per tile: the length sits inside a derived atom.
                        guard atoms.substitute(opaque, atom, Poly()).isZero else {
                            throw fail("a per-tile cost here is not zero for an empty tile, so it has no closed form", s.span)
                        }
                        out = floorE * atoms.substitute(opaque, atom, T) + atoms.substitute(opaque, atom, modE)
                    }
                    for (k, rest) in (p - opaque).power(of: atom) {
                        switch k {
                        case 0: out = out + rest * ceilE
                        case 1: out = out + rest * E
                        default:
                            var tk = Poly(1), mk = Poly(1)
                            for _ in 0..<k { tk = tk * T; mk = mk * modE }
                            out = out + rest * (floorE * tk + mk)
                        }
                    }
                    return out
                }
                return (try sum(c.0), try sum(c.1), try sum(c.2))
            case .range(let a, let b, let st):
                let from = try poly(a, f), to = try poly(b, f)
                if let st, try poly(st, f) != Poly(1) { throw fail("loops with a step other than 1 have no closed form here", s.span) }
                // The index is an atom of its own: sizes may use it where it cancels (a head's
                // columns h*hd ..< (h+1)*hd are hd wide); a cost left depending on it has no closed form.
                let index = "@" + f.prefix + name
                f.values[slot] = .poly(Poly(atom: index))
                let c = try block(body, &f)
                f.values[slot] = .none
                if [c.0, c.1, c.2].contains(where: { $0.atoms.contains { atoms.depends($0, on: index) } }) {
                    throw fail("the cost of an iteration depends on '\(name)', so the loop has no closed form here", s.span)
                }
                let n = to - from
                return (c.0 * n, c.1 * n, c.2 * n)
            }
        case .repeatLoop(let count, let body):
            let n = try poly(count, f)
            let c = try block(body, &f)
            return (c.0 * n, c.1 * n, c.2 * n)
        case .ifStmt(let c, let then, let otherwise):
            guard let taken = decide(c, f) else {
                throw fail("a condition makes the cost depend on positions; simulate instead (gpusim sweep)", s.span)
            }
            if taken { return try block(then, &f) }
            return try otherwise.map { b throws(Failure) in try block(b, &f) } ?? (zero, zero, zero)
        case .load(let slot, _, let ref):
            let (r, c, d) = try slice(ref, f)
            alloc(bytes(r, c, d))
            bind(slot, .tile(rows: r, cols: c, dtype: d), &f)
            return (bytes(r, c, d), zero, zero)
        case .gather(let slot, _, let table, _, let index):
            let idx = try tileExpr(index, &f)
            guard let t = f.tensors[table] else { throw fail("unknown table", s.span) }
            let rows = idx.rows * idx.cols, cols = t.shape[1]
            alloc(bytes(rows, cols, t.dtype))
            if idx.temp { dropTemp(idx) }
            bind(slot, .tile(rows: rows, cols: cols, dtype: t.dtype), &f)
            return (bytes(rows, cols, t.dtype), zero, idx.flops)
        case .assign(let slot, _, let e):
            if case .local(let src) = e.kind, e.isTile {
                let v = f.values[src]
                f.values[src] = .none
                bind(slot, v, &f)
                return (zero, zero, zero)
            }
            let t = try tileExpr(e, &f)
            if case .tile = f.values[slot] { freeSlot(slot, &f) }
            f.values[slot] = .tile(rows: t.rows, cols: t.cols, dtype: t.dtype)
            return (zero, zero, t.flops)
        case .update(let slot, _, let op, let e):
            guard case .tile(let r, let c, _) = f.values[slot] else { throw fail("not a tile here", s.span) }
            var flops = Poly()
            let tileOp: TileOp = switch op { case .add: .add; case .sub: .sub; case .mul: .mul; case .div: .div; case .max: .max; case .min: .min }
            if e.isTile {
                let t = try tileExpr(e, &f)
                flops = t.flops
                if t.temp { dropTemp(t) }
                if gpu.accumulatesInMMA(op, e, operand: t.dtype) { return (zero, zero, flops) }
            }
            return (zero, zero, flops + cost.flops(tileOp, elements: r * c))
        case .store(let e, let ref):
            let t = try tileExpr(e, &f)
            let (r, c, d) = try slice(ref, f)
            if t.temp { dropTemp(t) }
            return (zero, bytes(r, c, d), t.flops)
        case .scatter(let e, let table, _, let index):
            let t = try tileExpr(e, &f), idx = try tileExpr(index, &f)
            guard let tensor = f.tensors[table] else { throw fail("unknown table", s.span) }
            let rows = idx.rows * idx.cols
            let moved = bytes(rows, tensor.shape[1], tensor.dtype)
            if t.temp { dropTemp(t) }
            if idx.temp { dropTemp(idx) }
            return (moved, moved, t.flops + idx.flops + cost.flops(.add, elements: rows * tensor.shape[1]))
        case .free(let slots):
            for slot in slots { freeSlot(slot, &f) }
        case .freeTensors, .require, .collective, .setting:
            break   // a collective moves bytes between GPUs, not through HBM
        case .launch(let k, _, let params, let tensors):
            let callee = program.kernels[k]
            var args: [Int: Value] = [:]
            for p in params {
                let slot = callee.params[p.slot].slot
                if case .dtype(let d) = p.value.kind { args[slot] = .dtype(d) }
                else if case .local(let s) = p.value.kind, case .dtype(let d) = f.values[s] { args[slot] = .dtype(d) }
                else { args[slot] = .poly(try poly(p.value, f)) }
            }
            var bound: [Int: (shape: [Poly], dtype: DType)] = [:]
            for (ci, caller, indices) in tensors {
                guard let t = f.tensors[caller] else { continue }
                bound[callee.tensors[ci].index] = (Array(t.shape.dropFirst(indices.count)), t.dtype)
            }
            var g = Frame(kernel: callee, values: Array(repeating: .none, count: callee.slotNames.count), tensors: [:], bound: bound, args: args, prefix: callee.name + ".")
            return try block(callee.body, &g)
        }
        return (zero, zero, zero)
    }

    /// Drops peak candidates that another candidate dominates term by term.
    mutating func prune() {
        func dominates(_ a: Poly, _ b: Poly) -> Bool {
            let d = a - b
            return d.terms.values.allSatisfy { $0 >= 0 } && d.atoms.allSatisfy { !$0.hasPrefix("(") || !$0.contains(" mod ") }
        }
        var kept: [Poly] = []
        for c in peakCandidates where !peakCandidates.contains(where: { $0 != c && dominates($0, c) }) {
            if !kept.contains(c) { kept.append(c) }
        }
        peakCandidates = kept
    }
}
