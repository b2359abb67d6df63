import Foundation
import KernLang

/// Expression evaluation: scalars for parameters and bounds, tiles for computations.
extension Interpreter {
    // MARK: scalars

    func scalar(_ e: RExpr, _ f: Frame) throws(SimulationError) -> Value {
        switch e.kind {
        case .int(let v): return .int(v)
        case .float(let v): return .float(v)
        case .bool(let v): return .bool(v)
        case .dtype(let d): return .dtype(d)
        case .gpu(let fact):
            let v = gpu.fact(fact)
            return v == v.rounded() && abs(v) < 9e18 ? .int(Int64(v)) : .float(v)
        case .local(let slot):
            let v = f.values[slot]
            if case .none = v { throw fail("'\(f.kernel.slotNames[slot])' has no value here", e.span) }
            return v
        case .rangeMember(let r, let m):
            guard case .range(let a, let b) = try scalar(r, f) else { throw fail("expected a tile range", r.span) }
            switch m { case .start: return .int(a); case .end: return .int(b); case .len: return .int(b - a) }
        case .tileMember(let t, let m):
            let (id, temp) = try tile(t, f)
            let tl = tiles[Int(id)]
            if temp { releaseTile(id, nil) }
            return .int(m == .rows ? tl.rows : tl.cols)
        case .transposed:
            throw fail("'.T' is only valid as a matmul operand", e.span)
        case .unary(let op, let a):
            let v = try scalar(a, f)
            switch (op, v) {
            case (.neg, .int(let x)):
                if x == .min { throw fail("integer overflow", e.span) }
                return .int(-x)
            case (.neg, .float(let x)): return .float(-x)
            case (.not, .bool(let x)): return .bool(!x)
            default: throw fail("'\(op.rawValue)' does not apply to \(describe(v))", e.span)
            }
        case .binary(let op, let a, let b):
            return try binaryScalar(op, try scalar(a, f), try scalar(b, f), e)
        case .call(let fn, let args):
            return try callScalar(fn, args, f, e)
        }
    }

    func describe(_ v: Value) -> String {
        switch v {
        case .none: "nothing"
        case .int(let x): "the integer \(x)"
        case .float(let x): "the number \(x)"
        case .bool(let x): "\(x)"
        case .range(let a, let b): "the tile range \(a) ..< \(b)"
        case .dtype(let d): "the dtype \(d.rawValue)"
        case .tile: "a tile"
        }
    }

    func binaryScalar(_ op: BinaryOp, _ x: Value, _ y: Value, _ e: RExpr) throws(SimulationError) -> Value {
        // A tile range shifted by a number (the checker allows it only as a range argument).
        if case .range(let a, let b) = x, op == .add || op == .sub {
            guard case .int(let n) = y else { throw fail("a tile range shifts by an integer, got \(describe(y))", e.span) }
            let k = op == .add ? n : -n
            let (s, o1) = a.addingReportingOverflow(k), (t, o2) = b.addingReportingOverflow(k)
            if o1 || o2 { throw fail("integer overflow", e.span) }
            return .range(s, t)
        }
        switch op {
        case .and, .or:
            guard case .bool(let p) = x, case .bool(let q) = y else { throw fail("'\(op.rawValue)' combines conditions (true/false)", e.span) }
            return .bool(op == .and ? p && q : p || q)
        case .eq, .ne, .lt, .le, .gt, .ge:
            if case .dtype(let p) = x, case .dtype(let q) = y, op == .eq || op == .ne { return .bool((p == q) == (op == .eq)) }
            if case .bool(let p) = x, case .bool(let q) = y, op == .eq || op == .ne { return .bool((p == q) == (op == .eq)) }
            if case .int(let p) = x, case .int(let q) = y {
                switch op { case .eq: return .bool(p == q); case .ne: return .bool(p != q); case .lt: return .bool(p < q)
                case .le: return .bool(p <= q); case .gt: return .bool(p > q); default: return .bool(p >= q) }
            }
            let p = try number(x, e), q = try number(y, e)
            switch op { case .eq: return .bool(p == q); case .ne: return .bool(p != q); case .lt: return .bool(p < q)
            case .le: return .bool(p <= q); case .gt: return .bool(p > q); default: return .bool(p >= q) }
        case .matmul:
            throw fail("'@' multiplies tiles, not numbers", e.span)
        default: break
        }
        if case .int(let p) = x, case .int(let q) = y, op != .div {
            let r: (Int64, Bool)
            switch op {
            case .add: r = p.addingReportingOverflow(q)
            case .sub: r = p.subtractingReportingOverflow(q)
            case .mul: r = p.multipliedReportingOverflow(by: q)
            case .floorDiv, .mod:
                if q == 0 { throw fail("division by zero", e.span) }
                if p == .min && q == -1 { throw fail("integer overflow", e.span) }
                var d = p / q
                if (p % q != 0) && ((p < 0) != (q < 0)) { d -= 1 }
                r = op == .floorDiv ? (d, false) : (p - d * q, false)
            default: r = (0, true)
            }
            if r.1 { throw fail("integer overflow in '\(op.rawValue)' (\(p) \(op.rawValue) \(q))", e.span) }
            return .int(r.0)
        }
        let p = try number(x, e), q = try number(y, e)
        switch op {
        case .add: return .float(p + q)
        case .sub: return .float(p - q)
        case .mul: return .float(p * q)
        case .div:
            if q == 0 { throw fail("division by zero", e.span) }
            return .float(p / q)
        case .floorDiv:
            if q == 0 { throw fail("division by zero", e.span) }
            return .float((p / q).rounded(.down))
        case .mod:
            if q == 0 { throw fail("division by zero", e.span) }
            return .float(p - (p / q).rounded(.down) * q)
        default: throw fail("unsupported operator '\(op.rawValue)'", e.span)
        }
    }

    func number(_ v: Value, _ e: RExpr) throws(SimulationError) -> Double {
        switch v {
        case .int(let x): return Double(x)
        case .float(let x): return x
        default: throw fail("expected a number, got \(describe(v))", e.span)
        }
    }

    func number(_ e: RExpr, _ f: Frame) throws(SimulationError) -> Double { try number(try scalar(e, f), e) }

    /// `what` names the value in an error; built only then (it is formatted text, on a hot path).
    func int(_ e: RExpr, _ f: Frame, _ what: @autoclosure () -> String) throws(SimulationError) -> Int64 {
        let v = try scalar(e, f)
        switch v {
        case .int(let x): return x
        case .float(let x) where x == x.rounded() && abs(x) < 9.2e18: return Int64(x)
        case .range(let a, _): return a
        default: throw fail("\(what()) must be a whole number, got \(describe(v))", e.span)
        }
    }

    func bool(_ e: RExpr, _ f: Frame) throws(SimulationError) -> Bool {
        guard case .bool(let b) = try scalar(e, f) else { throw fail("a condition must be true or false", e.span) }
        return b
    }

    func callScalar(_ fn: Builtin, _ args: [RExpr], _ f: Frame, _ e: RExpr) throws(SimulationError) -> Value {
        func toInt(_ x: Double) throws(SimulationError) -> Value {
            guard x.isFinite, abs(x) < 9.2e18 else { throw fail("'\(fn.rawValue)' result \(x) is not a finite whole number", e.span) }
            return .int(Int64(x))
        }
        switch fn {
        case .bytes:
            guard case .dtype(let d) = try scalar(args[0], f) else { throw fail("bytes() takes a dtype", args[0].span) }
            let b = gpu.elementBytesFor(d)
            return b == b.rounded() ? .int(Int64(b)) : .float(b)
        case .max, .min:
            let x = try scalar(args[0], f), y = try scalar(args[1], f)
            if case .int(let p) = x, case .int(let q) = y { return .int(fn == .max ? Swift.max(p, q) : Swift.min(p, q)) }
            let p = try number(x, args[0]), q = try number(y, args[1])
            return .float(fn == .max ? Swift.max(p, q) : Swift.min(p, q))
        case .cdiv:
            let p = try int(args[0], f, "cdiv's numerator"), q = try int(args[1], f, "cdiv's divisor")
            if q <= 0 { throw fail("cdiv divisor must be positive, got \(q)", args[1].span) }
            return .int(p / q + (p % q > 0 ? 1 : 0))
        default: break
        }
        let x = try number(args[0], f)
        switch fn {
        case .ceil: return try toInt(x.rounded(.up))
        case .floor: return try toInt(x.rounded(.down))
        case .round: return try toInt(x.rounded())
        case .abs: if case .int(let i) = try scalar(args[0], f), i != .min { return .int(Swift.abs(i)) }; return .float(Swift.abs(x))
        case .sqrt:
            if x < 0 { throw fail("sqrt of a negative number (\(x))", e.span) }
            return .float(x.squareRoot())
        case .rsqrt:
            if x <= 0 { throw fail("rsqrt needs a positive number, got \(x)", e.span) }
            return .float(1 / x.squareRoot())
        case .log2:
            if x <= 0 { throw fail("log2 needs a positive number, got \(x)", e.span) }
            return .float(Foundation.log2(x))
        case .log:
            if x <= 0 { throw fail("log needs a positive number, got \(x)", e.span) }
            return .float(Foundation.log(x))
        case .exp: return .float(Foundation.exp(x))
        case .tanh: return .float(Foundation.tanh(x))
        case .gelu: return .float(0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())))
        case .silu: return .float(x / (1 + Foundation.exp(-x)))
        default: throw fail("'\(fn.rawValue)' makes a tile; it cannot be used as a number", e.span)
        }
    }

    // MARK: slices

    /// Resolves a tensor slice to its tensor and the (rows x cols) tile it covers.
    func slice(_ ref: RTensorRef, _ f: Frame) throws(SimulationError) -> (Tensor, Int64, Int64, [SliceDim]) {
        let t = tensors[f.tensors[ref.tensor]]
        if let at = t.freedAt { throw fail("'\(ref.name)' was freed; its HBM is released", ref.span, notes: [.init("freed here", at: at)]) }
        // A view fixes leading dimensions of the underlying tensor.
        let fixed = f.views[ref.tensor] ?? []
        let prefix = fixed.map { SliceDim(start: $0, len: 1) }
        let shape = f.reshapes[ref.tensor] ?? Array(t.shape.dropFirst(fixed.count))
        guard let slices = ref.slices else {
            if shape.count > 2 {
                throw fail("'\(ref.name)' has rank \(shape.count); a tile is 2-D, so index its leading dimensions", ref.span)
            }
            return (t, shape.count == 2 ? shape[0] : 1, shape.last!, prefix + shape.map { SliceDim(start: 0, len: $0) })
        }
        var kept: [Int64] = []
        var dims: [SliceDim] = prefix
        for (d, s) in slices.enumerated() {
            let size = shape[d]
            var start: Int64 = 0, len = size, keep = true
            var at = ref.span
            switch s {
            case .all: break
            case .index(let e):
                at = e.span
                switch try scalar(e, f) {
                case .range(let a, let b): start = a; len = b - a
                case .int(let i): start = i; len = 1; keep = false
                case let v:
                    if case .float(let x) = v, x == x.rounded() { start = Int64(x); len = 1; keep = false }
                    else { throw fail("a slice index must be a whole number or a tile range, got \(describe(v))", e.span) }
                }
            case .range(let a, let b):
                at = a.span.to(b.span)
                start = try int(a, f, "a slice bound")
                len = try int(b, f, "a slice bound") - start
            }
            if len <= 0 || start < 0 || start > size - len {
                let what = keep ? "\(start) ..< \(start + len)" : "index \(start)"
                throw fail("slice \(what) is out of bounds for dimension \(d) of '\(ref.name)' (size \(size))", at,
                           notes: [.init("'\(ref.name)' has shape \(fmtShape(shape))")])
            }
            if keep { kept.append(len) }
            dims.append(SliceDim(start: start, len: len))
        }
        switch kept.count {
        case 0: return (t, 1, 1, dims)
        case 1: return (t, 1, kept[0], dims)
        case 2: return (t, kept[0], kept[1], dims)
        default:
            throw fail("this slice of '\(ref.name)' keeps \(kept.count) dimensions; a tile is 2-D, so index the leading ones", ref.span)
        }
    }

    // MARK: tiles

    /// Evaluates a tile expression. Returns the tile and whether it is a temporary the caller must free.
    func tile(_ e: RExpr, _ f: Frame, name: String = "") throws(SimulationError) -> (Int32, Bool) {
        switch e.kind {
        case .local(let slot):
            guard case .tile(let id) = f.values[slot] else {
                throw fail("'\(f.kernel.slotNames[slot])' has no tile here: it was freed or moved", e.span)
            }
            return (id, false)
        case .binary(.matmul, let a, let b):
            let (ta, aT) = try operand(a, f), (tb, bT) = try operand(b, f)
            let A = tiles[Int(ta.0)], B = tiles[Int(tb.0)]
            let (m, k) = aT ? (A.cols, A.rows) : (A.rows, A.cols)
            let (k2, n) = bT ? (B.cols, B.rows) : (B.rows, B.cols)
            guard k == k2 else {
                throw fail("matmul shapes do not agree: (\(m) x \(k)) @ (\(k2) x \(n))", e.span,
                           notes: [.init("the inner dimensions \(k) and \(k2) must be equal")])
            }
            let flops = cost.matmulFlops(m: m, n: n, k: k)
            if flops == .max { throw fail("FLOP count overflowed a 64-bit counter", e.span) }
            let id = allocTile(rows: m, cols: n, dtype: A.dtype, name: name)
            let tensorCore = A.dtype.isTensorCoreInput
            let warp = tensorCore && gpu.usesWarpLevelMMA(rows: m, builtFor: f.builtFor)
            let dt = time.compute(flops: flops, tensorCore: tensorCore ? flops : 0, warp: warp ? flops : 0)
            try tally.addMatmul(flops, tensorCore: tensorCore, warpLevel: warp)
            tally.computes += 1
            if sink != nil { try emit(.compute, op: "matmul", name: name, rows: m, cols: n, bytes: tiles[Int(id)].bytes, flops: flops, duration: dt, e.span) } else { countEvent() }
            numerics?.matmul(result: id, a: ta.0, aT: aT, b: tb.0, bT: bT, m: m, k: k, n: n)
            if ta.1 { releaseTile(ta.0, e.span) }
            if tb.1 { releaseTile(tb.0, e.span) }
            try checkOverflow(e.span, name)
            return (id, true)
        case .binary(let op, let a, let b):
            let tileOp: TileOp = switch op { case .add: .add; case .sub: .sub; case .mul: .mul; default: .div }
            return try elementwise(tileOp, [a, b], f, e, name)
        case .unary(_, let a):
            return try elementwise(.neg, [a], f, e, name)
        case .call(let fn, let args):
            return try callTile(fn, args, f, e, name)
        default:
            throw fail("expected a tile here", e.span)
        }
    }

    private func operand(_ e: RExpr, _ f: Frame) throws(SimulationError) -> ((Int32, Bool), Bool) {
        if case .transposed(let inner) = e.kind { return (try tile(inner, f), true) }
        return (try tile(e, f), false)
    }

    /// Broadcasting elementwise op over tiles and numbers; the result has the larger shape.
    func elementwise(_ op: TileOp, _ args: [RExpr], _ f: Frame, _ e: RExpr, _ name: String) throws(SimulationError) -> (Int32, Bool) {
        var shapes: [(Int64, Int64)] = []
        var temps: [Int32] = []
        var operands: [NumericOperand] = []
        var dtype: DType?
        for a in args {
            guard a.isTile else { operands.append(.scalar(try number(a, f))); continue }
            let (id, temp) = try tile(a, f)
            let t = tiles[Int(id)]
            shapes.append((t.rows, t.cols))
            operands.append(.tile(id, rows: t.rows, cols: t.cols))
            if dtype == nil { dtype = t.dtype }
            if temp { temps.append(id) }
        }
        var rows: Int64 = 1, cols: Int64 = 1
        for (r, c) in shapes {
            if r != 1 { if rows != 1 && rows != r { throw shapeMismatch(op, shapes, e) }; rows = r }
            if c != 1 { if cols != 1 && cols != c { throw shapeMismatch(op, shapes, e) }; cols = c }
        }
        let id = allocTile(rows: rows, cols: cols, dtype: dtype ?? .f32, name: name)
        try charge(op, elements: rows * cols, name: name, rows: rows, cols: cols, e.span)
        numerics?.elementwise(op, result: id, rows: rows, cols: cols, operands: operands)
        for t in temps { releaseTile(t, e.span) }
        try checkOverflow(e.span, name)
        return (id, true)
    }

    func shapeMismatch(_ op: TileOp, _ shapes: [(Int64, Int64)], _ e: RExpr) -> SimulationError {
        fail("shapes \(shapes.map { "(\($0.0) x \($0.1))" }.joined(separator: " and ")) cannot be combined by \(op.key)", e.span,
             notes: [.init("elementwise operands need the same shape, or (rows x 1) / (1 x cols) to broadcast")])
    }

    /// A call that makes a tile: shaped by its row of the op table, checked and computed here.
    func callTile(_ fn: Builtin, _ args: [RExpr], _ f: Frame, _ e: RExpr, _ name: String) throws(SimulationError) -> (Int32, Bool) {
        guard let spec = OpSpec.of(fn) else { throw fail("'\(fn.rawValue)' does not make a tile", e.span) }
        if case .broadcast = spec.shape { return try elementwise(spec.cost, args, f, e, name) }
        var source: (id: Int32, temp: Bool, tile: Tile)?
        if case .source = spec.shape {
            let (id, temp) = try tile(args[0], f)
            source = (id, temp, tiles[Int(id)])
        }
        func range(_ i: Int) throws(SimulationError) -> (Int64, Int64) {
            guard case .range(let a, let b) = try scalar(args[i], f) else {
                throw fail("\(fn.rawValue) needs a tile range (a loop variable of tiles()) for its \(fn.argumentName(i))", args[i].span)
            }
            return (a, b)
        }
        let s = source?.tile
        let shape = try spec.result(
            source: s.map { ($0.rows, $0.cols, $0.dtype) }, one: 1,
            number: { (i: Int) throws(SimulationError) -> Int64 in
                let n = try int(args[i], f, "\(fn.rawValue)'s \(fn.argumentName(i))")
                if n <= 0 { throw fail("\(fn.rawValue)'s \(fn.argumentName(i)) must be positive, got \(n)", args[i].span) }
                return n
            },
            length: { (i: Int) throws(SimulationError) -> Int64 in let (a, b) = try range(i); return b - a },
            dtype: { (i: Int) throws(SimulationError) -> DType in
                guard i < args.count else { return .f32 }
                guard case .dtype(let d) = try scalar(args[i], f) else { throw fail("expected a dtype", args[i].span) }
                return d
            })
        // What the numeric kernel needs besides the source, and the checks the table cannot state.
        var params = TileOpParams.none
        var fillValue = 0.0, start: Int64 = 0
        var extraTemps: [Int32] = []
        switch fn {
        case .full: fillValue = try number(args[2], f)
        case .sinusoidal: start = try range(0).0
        case .mask_causal, .mask_window, .alibi:
            let rowStart = try range(1).0, colStart = try range(2).0
            switch fn {
            case .alibi: params = .alibi(rowStart: rowStart, colStart: colStart, slope: try number(args[3], f))
            case .mask_window: params = .mask(rowStart: rowStart, colStart: colStart, window: try int(args[3], f, "the window"))
            default: params = .mask(rowStart: rowStart, colStart: colStart, window: nil)
            }
        case .topk, .argtopk:
            if shape.cols > s!.cols { throw fail("\(fn.rawValue) k = \(shape.cols) is larger than the tile's \(s!.cols) columns", args[1].span) }
            params = .topk(shape.cols)
        case .top_p:
            let p = try number(args[1], f)
            if !(p > 0 && p <= 1) { throw fail("top_p needs 0 < p <= 1, got \(p)", args[1].span) }
            params = .topP(p)
        case .dispatch, .dispatch_gate, .expert_load:
            // Routing reads the whole (tokens x k) route tile: one compare per entry and expert slot.
            if s!.dtype != .i32 { throw fail("\(fn.rawValue) reads a route tile of expert ids (i32, from argtopk); got \(s!.dtype.rawValue)", args[0].span) }
            switch fn {
            case .expert_load: params = .route(.loads(experts: shape.cols))
            case .dispatch: params = .route(.ids(expert: try int(args[1], f, "the expert"), capacity: shape.rows))
            default:
                let expert = try int(args[2], f, "the expert")
                let (g, gTemp) = try tile(args[1], f)
                let gt = tiles[Int(g)]
                guard gt.rows == s!.rows && gt.cols == s!.cols else {
                    throw fail("dispatch_gate needs gates shaped like the route \(fmtTile(s!)); got \(fmtTile(gt))", args[1].span)
                }
                params = .route(.gates(expert: expert, capacity: shape.rows, gates: g))
                if gTemp { extraTemps.append(g) }
            }
        default: break
        }
        let id = allocTile(rows: shape.rows, cols: shape.cols, dtype: shape.dtype, name: name)
        // Softmax needs a scratch tile of its input's size while it runs (the seed's model).
        var scratchID: Int32?
        if spec.scratch, let s { scratchID = allocTile(rows: s.rows, cols: s.cols, dtype: shape.dtype, name: "\(name).scratch") }
        try checkOverflow(e.span, name)
        let charged = s.map { $0.rows * $0.cols } ?? shape.rows * shape.cols
        try charge(spec.cost, elements: charged, name: name, rows: shape.rows, cols: shape.cols, e.span)
        if let numerics {
            switch fn {
            case .zeros, .full: numerics.fill(id, count: shape.rows * shape.cols, value: fillValue)
            case .sinusoidal: numerics.sinusoidal(id, start: start, rows: shape.rows, cols: shape.cols)
            default:
                if let kernel = spec.kernel {
                    do {
                        try numerics.custom(result: id, source: source!.id, rows: s!.rows, cols: s!.cols, count: shape.rows * shape.cols,
                                            label: fn.rawValue, at: e.span, kernel: kernel)
                    } catch { throw fail(error.message, error.span ?? e.span) }
                } else {
                    numerics.unaryTile(spec.cost, result: id, source: source!.id, rows: s!.rows, cols: s!.cols, params: params, dtype: shape.dtype)
                }
            }
        }
        if let scratchID { releaseTile(scratchID, e.span) }
        for t in extraTemps { releaseTile(t, e.span) }
        if let source, source.temp { releaseTile(source.id, e.span) }
        return (id, true)
    }
}
