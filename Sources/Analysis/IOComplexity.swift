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
    /// How each derived atom is defined: "ceil(N/Br)" -> (ceil, N, Br).
    public var atomDefinitions: [String: (kind: String, extent: Poly, size: Poly)] = [:]
    public var sizeParameter: String?

    enum Value {
        case poly(Poly)
        case len(String)
        case tile(rows: Poly, cols: Poly, bytes: Int64)
        case dtype(DType)
        case none
    }

    struct Frame {
        let kernel: CheckedKernel
        var values: [Value]
        var tensors: [Int: (shape: [Poly], bytes: Int64)]
        var bound: [Int: (shape: [Poly], bytes: Int64)]
        var args: [Int: Value]
        var prefix: String
    }

    let program: CheckedProgram
    let gpu: GPUModel
    let concrete: [String: ParamValue]
    var live: [Poly] = []
    var lenFull: [String: Poly] = [:]

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
    }

    func fail(_ message: String, _ span: Span) -> Failure { Failure(description: "\(span.description): \(message)") }

    func bytes(_ d: DType) -> Int64 { Int64(gpu.elementBytes ?? max(1, d.bits / 8)) }

    // MARK: expressions

    func poly(_ e: RExpr, _ f: Frame) throws(Failure) -> Poly {
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
            guard m == .len, case .local(let s) = r.kind, case .len(let atom) = f.values[s] else {
                throw fail("costs that depend on where a tile starts (.start, .end) have no closed form here", e.span)
            }
            return Poly(atom: atom)
        case .tileMember(let t, let m):
            guard case .local(let s) = t.kind, case .tile(let r, let c, _) = f.values[s] else { throw fail("expected a tile", e.span) }
            return m == .rows ? r : c
        case .gpu(let fact): return Poly(atom: "gpu.\(fact.rawValue)")
        case .unary(.neg, let a): return -(try poly(a, f))
        case .binary(let op, let a, let b) where op == .add || op == .sub || op == .mul:
            let x = try poly(a, f), y = try poly(b, f)
            return op == .add ? x + y : op == .sub ? x - y : x * y
        default:
            throw fail("this expression is not a polynomial in the parameters", e.span)
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
        guard case .tile(let r, let c, let b) = f.values[slot] else { return }
        f.values[slot] = .none
        let size = r * c * Poly(b)
        if let i = live.lastIndex(of: size) { live.remove(at: i) }
    }

    mutating func alloc(_ size: Poly) {
        live.append(size)
        var sum = Poly()
        for p in live { sum = sum + p }
        for (atom, full) in lenFull { sum = sum.substitute(atom, full) }
        if !peakCandidates.contains(sum) { peakCandidates.append(sum) }
    }

    mutating func bind(_ slot: Int, _ v: Value, _ f: inout Frame) {
        freeSlot(slot, &f)
        f.values[slot] = v
    }

    mutating func slice(_ r: RTensorRef, _ f: Frame) throws(Failure) -> (Poly, Poly, Int64) {
        guard let t = f.tensors[r.tensor] else { throw fail("unknown tensor", r.span) }
        guard let slices = r.slices else {
            return (t.shape.count == 2 ? t.shape[0] : Poly(1), t.shape.last!, t.bytes)
        }
        var kept: [Poly] = []
        for (d, s) in slices.enumerated() {
            switch s {
            case .all: kept.append(t.shape[d])
            case .range(let a, let b): kept.append(try poly(b, f) - poly(a, f))
            case .index(let e):
                if case .local(let slot) = e.kind, case .len(let atom) = f.values[slot] { kept.append(Poly(atom: atom)) }
                else if case .local(let slot) = e.kind, case .none = f.values[slot] { }   // a loop index: which one does not change the size
                else { _ = try poly(e, f) }   // an integer index drops the dimension
            }
        }
        switch kept.count {
        case 0: return (Poly(1), Poly(1), t.bytes)
        case 1: return (Poly(1), kept[0], t.bytes)
        default: return (kept[0], kept[1], t.bytes)
        }
    }

    func weight(_ op: String) -> Int64 { Int64(gpu.flopWeights[op] ?? GPUModel.seedWeights[op] ?? 1) }

    /// A tile expression: its shape, bytes per element, FLOPs; allocates like the interpreter.
    mutating func tileExpr(_ e: RExpr, _ f: inout Frame) throws(Failure) -> (Poly, Poly, Int64, Poly, Bool) {
        switch e.kind {
        case .local(let s):
            guard case .tile(let r, let c, let b) = f.values[s] else { throw fail("not a tile here", e.span) }
            return (r, c, b, Poly(), false)
        case .transposed(let a):
            let (r, c, b, fl, t) = try tileExpr(a, &f)
            return (c, r, b, fl, t)
        case .binary(.matmul, let a, let bb):
            let x = try tileExpr(a, &f), y = try tileExpr(bb, &f)
            let flops = Poly(2) * x.0 * y.1 * x.1 + x.3 + y.3
            alloc(x.0 * y.1 * Poly(x.2))
            if x.4 { dropTemp(x) }
            if y.4 { dropTemp(y) }
            return (x.0, y.1, x.2, flops, true)
        case .binary(let op, let a, let b):
            let name = op == .add ? "add" : op == .sub ? "sub" : op == .mul ? "mul" : "div"
            return try elementwise(name, [a, b], &f, e)
        case .unary(_, let a):
            return try elementwise("neg", [a], &f, e)
        case .call(let fn, let args):
            switch fn {
            case .zeros, .full:
                let r = try poly(args[0], f), c = try poly(args[1], f)
                let idx = fn == .zeros ? 2 : 3
                let b = args.count > idx ? bytes(try dtype(args[idx], f)) : bytes(.f32)
                alloc(r * c * Poly(b))
                return (r, c, b, Poly(), true)
            case .exp, .log, .sqrt, .rsqrt, .tanh, .gelu, .silu, .abs, .max, .min:
                return try elementwise(fn.rawValue, args, &f, e)
            case .dispatch, .dispatch_gate, .expert_load:
                let route = try tileExpr(args[0], &f)
                var gates: (Poly, Poly, Int64, Poly, Bool)?
                if fn == .dispatch_gate { gates = try tileExpr(args[1], &f) }
                let r: Poly, c: Poly, b: Int64
                switch fn {
                case .expert_load: (r, c, b) = (Poly(1), try poly(args[1], f), bytes(.f32))
                case .dispatch: (r, c, b) = (try poly(args[2], f), Poly(1), bytes(.i32))
                default: (r, c, b) = (try poly(args[3], f), Poly(1), bytes(.f32))
                }
                alloc(r * c * Poly(b))
                if let g = gates, g.4 { dropTemp(g) }
                if route.4 { dropTemp(route) }
                return (r, c, b, route.0 * route.1 * Poly(weight("dispatch")) + route.3 + (gates?.3 ?? Poly()), true)
            case .sinusoidal:
                guard case .local(let slot) = args[0].kind, case .len(let atom) = f.values[slot] else {
                    throw fail("sinusoidal's rows must be a loop variable of tiles()", args[0].span)
                }
                let r = Poly(atom: atom), c = try poly(args[1], f)
                alloc(r * c * Poly(bytes(.f32)))
                return (r, c, bytes(.f32), r * c * Poly(weight("sinusoidal")), true)
            case .rowmax, .rowsum, .rowmean, .softmax, .copy, .cast, .transpose, .mask_causal, .mask_window, .alibi, .topk, .argtopk, .top_p:
                let x = try tileExpr(args[0], &f)
                let n = x.0 * x.1
                var (r, c, b) = (x.0, x.1, x.2)
                var op = fn.rawValue
                switch fn {
                case .rowmax, .rowsum, .rowmean: c = Poly(1)
                case .transpose: (r, c) = (x.1, x.0)
                case .cast: b = bytes(try dtype(args[1], f))
                case .mask_causal, .mask_window: op = "mask"
                case .alibi: op = "alibi"
                case .topk: c = try poly(args[1], f)
                case .argtopk: c = try poly(args[1], f); b = bytes(.i32)
                default: break
                }
                alloc(r * c * Poly(b))
                if fn == .softmax { alloc(n * Poly(b)); live.removeLast() }
                if x.4 { dropTemp(x) }
                return (r, c, b, n * Poly(weight(op)) + x.3, true)
            default:
                throw fail("'\(fn.rawValue)' has no symbolic cost", e.span)
            }
        default:
            throw fail("expected a tile expression", e.span)
        }
    }

    mutating func dropTemp(_ t: (Poly, Poly, Int64, Poly, Bool)) {
        let size = t.0 * t.1 * Poly(t.2)
        if let i = live.lastIndex(of: size) { live.remove(at: i) }
    }

    mutating func elementwise(_ op: String, _ args: [RExpr], _ f: inout Frame, _ e: RExpr) throws(Failure) -> (Poly, Poly, Int64, Poly, Bool) {
        var shapes: [(Poly, Poly)] = [], temps: [(Poly, Poly, Int64, Poly, Bool)] = []
        var flops = Poly(), b: Int64?
        for a in args where a.isTile {
            let t = try tileExpr(a, &f)
            shapes.append((t.0, t.1)); flops = flops + t.3
            if b == nil { b = t.2 }
            if t.4 { temps.append(t) }
        }
        // Broadcasting: the larger operand's shape (a (rows x 1) or (1 x cols) side is smaller).
        let rows = shapes.map(\.0).first { $0 != Poly(1) } ?? Poly(1)
        let cols = shapes.map(\.1).first { $0 != Poly(1) } ?? Poly(1)
        alloc(rows * cols * Poly(b ?? 4))
        for t in temps { dropTemp(t) }
        return (rows, cols, b ?? 4, flops + rows * cols * Poly(weight(op)), true)
    }

    mutating func stmt(_ s: RStmt, _ f: inout Frame) throws(Failure) -> Cost {
        let zero = Poly()
        switch s.kind {
        case .param(let slot, let name, let e):
            if let v = f.args[slot] { f.values[slot] = v; return (zero, zero, zero) }
            if case .dtype(let d)? = f.prefix.isEmpty ? concrete[name] : nil { f.values[slot] = .dtype(d.isEmpty ? .f32 : DType(rawValue: d) ?? .f32); return (zero, zero, zero) }
            if case .dtype(let d) = e.kind { f.values[slot] = .dtype(d); return (zero, zero, zero) }
            if f.prefix.isEmpty { f.values[slot] = .poly(Poly(atom: name)); return (zero, zero, zero) }
            if let p = try? poly(e, f) { f.values[slot] = .poly(p) } else { f.values[slot] = .poly(Poly(atom: f.prefix + name)) }
        case .tensor(let index, _, _, let shape, let dt, _):
            if let b = f.bound[index] {
                // A reshaped binding (same size, declared shape differs) is read in the declared shape.
                var dims: [Poly] = []
                for d in shape { if let p = try? poly(d, f) { dims.append(p) } }
                f.tensors[index] = dims.count == shape.count ? (dims, b.bytes) : b
                return (zero, zero, zero)
            }
            var dims: [Poly] = []
            for d in shape { dims.append(try poly(d, f)) }
            f.tensors[index] = (dims, bytes(try dtype(dt, f)))
        case .loop(_, let slot, let name, let domain, let body, _):
            switch domain {
            case .tiles(let ee, let te):
                let E = try poly(ee, f), T = try poly(te, f)
                let atom = "#" + f.prefix + name
                f.values[slot] = .len(atom)
                // A full tile, or the whole extent when it is smaller than one tile.
                let minAtom = "min(\(Self.atomName(E)),\(Self.atomName(T)))"
                atomDefinitions[minAtom] = ("min", E, T)
                lenFull[atom] = Poly(atom: minAtom)
                let c = try block(body, &f)
                lenFull[atom] = nil
                f.values[slot] = .none
                let (e, t) = (Self.atomName(E), Self.atomName(T))
                let ceilAtom = "ceil(\(e)/\(t))", floorAtom = "floor(\(e)/\(t))", modAtom = "(\(e) mod \(t))"
                atomDefinitions[ceilAtom] = ("ceil", E, T); atomDefinitions[floorAtom] = ("floor", E, T); atomDefinitions[modAtom] = ("mod", E, T)
                func sum(_ p: Poly) -> Poly {
                    var out = Poly()
                    for (k, rest) in p.power(of: atom) {
                        switch k {
                        case 0: out = out + rest * Poly(atom: ceilAtom)
                        case 1: out = out + rest * E
                        default:
                            var tk = Poly(1), mk = Poly(1)
                            for _ in 0..<k { tk = tk * T; mk = mk * Poly(atom: modAtom) }
                            out = out + rest * (Poly(atom: floorAtom) * tk + mk)
                        }
                    }
                    return out
                }
                return (sum(c.0), sum(c.1), sum(c.2))
            case .range(let a, let b, let st):
                let from = try poly(a, f), to = try poly(b, f)
                if let st, try poly(st, f) != Poly(1) { throw fail("loops with a step other than 1 have no closed form here", s.span) }
                f.values[slot] = .none
                let c = try block(body, &f)
                let n = to - from
                return (c.0 * n, c.1 * n, c.2 * n)
            }
        case .repeatLoop(let count, let body):
            let n = try poly(count, f)
            let c = try block(body, &f)
            return (c.0 * n, c.1 * n, c.2 * n)
        case .ifStmt:
            throw fail("a condition makes the cost depend on positions; simulate instead (gpusim sweep)", s.span)
        case .load(let slot, _, let ref):
            let (r, c, b) = try slice(ref, f)
            alloc(r * c * Poly(b))
            bind(slot, .tile(rows: r, cols: c, bytes: b), &f)
            return (r * c * Poly(b), zero, zero)
        case .gather(let slot, _, let table, _, let index):
            let idx = try tileExpr(index, &f)
            guard let t = f.tensors[table] else { throw fail("unknown table", s.span) }
            let rows = idx.0 * idx.1, cols = t.shape[1]
            alloc(rows * cols * Poly(t.bytes))
            if idx.4 { dropTemp(idx) }
            bind(slot, .tile(rows: rows, cols: cols, bytes: t.bytes), &f)
            return (rows * cols * Poly(t.bytes), zero, idx.3)
        case .assign(let slot, _, let e):
            if case .local(let src) = e.kind, e.isTile {
                let v = f.values[src]
                f.values[src] = .none
                bind(slot, v, &f)
                return (zero, zero, zero)
            }
            let t = try tileExpr(e, &f)
            if case .tile = f.values[slot] { freeSlot(slot, &f) }
            f.values[slot] = .tile(rows: t.0, cols: t.1, bytes: t.2)
            return (zero, zero, t.3)
        case .update(let slot, _, let op, let e):
            guard case .tile(let r, let c, _) = f.values[slot] else { throw fail("not a tile here", s.span) }
            var flops = Poly()
            if e.isTile {
                let t = try tileExpr(e, &f)
                flops = t.3
                if t.4 { dropTemp(t) }
            }
            let name: String = switch op { case .add: "add"; case .sub: "sub"; case .mul: "mul"; case .div: "div"; case .max: "max"; case .min: "min" }
            return (zero, zero, flops + r * c * Poly(weight(name)))
        case .store(let e, let ref):
            let t = try tileExpr(e, &f)
            let (r, c, b) = try slice(ref, f)
            if t.4 { dropTemp(t) }
            return (zero, r * c * Poly(b), t.3)
        case .scatter(let e, let table, _, let index):
            let t = try tileExpr(e, &f), idx = try tileExpr(index, &f)
            guard let tensor = f.tensors[table] else { throw fail("unknown table", s.span) }
            let moved = idx.0 * idx.1 * tensor.shape[1] * Poly(tensor.bytes)
            if t.4 { dropTemp(t) }
            if idx.4 { dropTemp(idx) }
            return (moved, moved, t.3 + idx.3 + idx.0 * idx.1 * tensor.shape[1] * Poly(weight("add")))
        case .free(let slots):
            for slot in slots { freeSlot(slot, &f) }
        case .freeTensors, .require:
            break
        case .launch(let k, _, let params, let tensors):
            let callee = program.kernels[k]
            var args: [Int: Value] = [:]
            for p in params {
                let slot = callee.params[p.slot].slot
                if case .dtype(let d) = p.value.kind { args[slot] = .dtype(d) }
                else if case .local(let s) = p.value.kind, case .dtype(let d) = f.values[s] { args[slot] = .dtype(d) }
                else { args[slot] = .poly(try poly(p.value, f)) }
            }
            var bound: [Int: (shape: [Poly], bytes: Int64)] = [:]
            for (ci, caller, indices) in tensors {
                guard let t = f.tensors[caller] else { continue }
                bound[callee.tensors[ci].index] = (Array(t.shape.dropFirst(indices.count)), t.bytes)
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

    // MARK: evaluation and asymptotics

    /// Values of every atom for given parameters (and the preset's facts).
    public func atomValues(_ params: [String: ParamValue]) -> [String: Double] {
        var v: [String: Double] = [:]
        for (k, p) in params {
            switch p { case .int(let x): v[k] = Double(x); case .float(let x): v[k] = x; default: break }
        }
        for fact in GPUFact.allCases { v["gpu.\(fact.rawValue)"] = gpu.fact(fact) }
        // Definitions can nest (the extent of one loop may contain another's atom): resolve until stable.
        for _ in 0..<4 {
            for (atom, def) in atomDefinitions where v[atom] == nil {
                guard let e = def.extent.evaluate(v), let t = def.size.evaluate(v), t > 0 else { continue }
                switch def.kind {
                case "ceil": v[atom] = (e / t).rounded(.up)
                case "floor": v[atom] = (e / t).rounded(.down)
                case "min": v[atom] = Swift.min(e, t)
                default: v[atom] = e - (e / t).rounded(.down) * t
                }
            }
        }
        return v
    }

    public func peak(_ values: [String: Double]) -> Double? {
        let xs = peakCandidates.compactMap { $0.evaluate(values) }
        return xs.max()
    }

    /// Θ(...) in the size parameter: tile counts become ratios, remainders drop out, and the
    /// terms of highest degree in the size parameter remain.
    public func asymptotic(_ p: Poly) -> String {
        guard let x = sizeParameter else { return "?" }
        var monos: [[String: Double]] = []
        for (m, _) in p.terms {
            var out: [String: Double] = [:]
            var dropped = false
            for (atom, k) in m {
                if let def = atomDefinitions[atom] {
                    if def.kind == "mod" { dropped = true; break }
                    guard def.extent.terms.count == 1, def.size.terms.count == 1 else { out[atom, default: 0] += Double(k); continue }
                    for (a, q) in def.extent.terms.first!.key { out[a, default: 0] += Double(q * k) }
                    for (a, q) in def.size.terms.first!.key { out[a, default: 0] -= Double(q * k) }
                } else { out[atom, default: 0] += Double(k) }
            }
            if !dropped { monos.append(out.filter { $0.value != 0 }) }
        }
        guard let top = monos.map({ $0[x] ?? 0 }).max() else { return "Θ(1)" }
        // Among the terms of top degree, drop those another term bounds (every parameter >= 1).
        let candidates = monos.filter { ($0[x] ?? 0) == top }
        func bounds(_ a: [String: Double], _ b: [String: Double]) -> Bool {
            Set(a.keys).union(b.keys).allSatisfy { (a[$0] ?? 0) >= (b[$0] ?? 0) }
        }
        let leading = candidates.filter { b in !candidates.contains { a in a != b && bounds(a, b) } }
        let lead = Set(leading.map { m -> String in
            let num = m.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { $0.value == 1 ? $0.key : "\($0.key)^\(Self.num($0.value))" }
            let den = m.filter { $0.value < 0 }.sorted { $0.key < $1.key }.map { $0.value == -1 ? $0.key : "\($0.key)^\(Self.num(-$0.value))" }
            let n = num.isEmpty ? "1" : num.joined(separator: " ")
            return den.isEmpty ? n : "\(n) / \(den.joined(separator: " "))"
        }).sorted()
        return "Θ(" + lead.joined(separator: " + ") + ")"
    }

    static func num(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
