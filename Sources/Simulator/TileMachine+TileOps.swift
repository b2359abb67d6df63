import Foundation
import KernLang
import Numerics

/// The numeric kernels of the op table's ops on a source tile, and positional encodings.
extension TileMachine {
    /// Reductions, softmax, masks, cast, copy, transpose, top-k and routing of a (rows x cols)
    /// source tile.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func unaryTile(_ op: TileOp, result: Int32, source: Int32, rows: Int64, cols: Int64, params: TileOpParams, dtype: DType) {
        let x = tiles[Int(source)]
        let R = Int(rows), C = Int(cols)
        var out: [T]
        switch op {
        case .rowmax, .rowsum, .rowmean:
            out = [T](repeating: 0, count: R)
            x.withUnsafeBufferPointer { xp in
                guard let base = xp.baseAddress else { return }
                for r in 0..<R {
                    let acc = op == .rowmax ? T.max(base + r * C, count: C) : T.sum(base + r * C, count: C)
                    out[r] = op == .rowmean ? acc / T(Double(C)) : acc
                }
            }
        case .softmax:
            out = x
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<R {
                    let row = UnsafeMutableBufferPointer(rebasing: o[(r * C)..<((r + 1) * C)])
                    let m = T.max(row.baseAddress!, count: C)
                    for c in 0..<C { row[c] -= m }
                    T.exp(UnsafeBufferPointer(row), into: row)
                    let inv = 1 / T.sum(row.baseAddress!, count: C)
                    for c in 0..<C { row[c] *= inv }
                }
            }
        case .mask:
            out = x
            guard case .mask(let r0, let c0, let w) = params else { break }
            let rowStart = Int(r0), colStart = Int(c0), window = w.map { Int($0) }
            for r in 0..<R {
                for c in 0..<C {
                    let q = rowStart + r, kpos = colStart + c
                    if kpos > q || (window.map { q - kpos >= $0 } ?? false) { out[r * C + c] = -.infinity }
                }
            }
        case .alibi:
            // ALiBi: a linear penalty on the distance from the query back to the key.
            out = x
            guard case .alibi(let r0, let c0, let s) = params else { break }
            let rowStart = Int(r0), colStart = Int(c0), slope = T(s)
            for r in 0..<R { for c in 0..<C { out[r * C + c] -= slope * T(Double((rowStart + r) - (colStart + c))) } }
        case .cast:
            let fmt = dtype.storageFormat
            out = x.map { T(Double(fmt.round(Float($0.double)))) }
        case .transpose:
            out = LinearAlgebra.transpose(x, rows: R, cols: C)
        case .topk:
            guard case .topk(let kk) = params else { out = x; break }
            let k = Int(kk)
            out = []
            out.reserveCapacity(R * k)
            for r in 0..<R { out += x[(r * C)..<((r + 1) * C)].sorted(by: >).prefix(k) }
        case .argtopk:
            // Column indices of the k largest, largest first; ties keep the lower index first.
            guard case .topk(let kk) = params else { out = x; break }
            let k = Int(kk)
            out = []
            out.reserveCapacity(R * k)
            for r in 0..<R {
                let order = (0..<C).sorted { a, b in x[r * C + a] > x[r * C + b] || (x[r * C + a] == x[r * C + b] && a < b) }
                out += order.prefix(k).map { T(Double($0)) }
            }
        case .dispatch:
            // Tokens in order, each choice in order: an expert's first `capacity` (token, choice)
            // pairs get its slots; the rest of its pairs are dropped (Switch / GShard).
            let K = C
            guard case .route(let route) = params else { out = x; break }
            switch route {
            case .loads(let e):
                let experts = Int(e)
                out = [T](repeating: 0, count: experts)
                for v in x { let e = Self.index(v); if e >= 0 && e < experts { out[e] += 1 } }
            case .ids(let e, let cap), .gates(let e, let cap, _):
                var gates: [T]?
                if case .gates(_, _, let g) = route { gates = tiles[Int(g)] }
                let expert = T(Double(e)), capacity = Int(cap)
                out = [T](repeating: gates == nil ? -1 : 0, count: capacity)
                var n = 0
                for t in 0..<R where n < capacity {
                    for c in 0..<K where x[t * K + c] == expert && n < capacity {
                        out[n] = gates?[t * K + c] ?? T(Double(t))
                        n += 1
                    }
                }
            }
        case .top_p:
            // Nucleus: per row, the largest entries until their sum reaches p of the row's total
            // (the entry that crosses it included), renormalised; the rest become 0.
            out = [T](repeating: 0, count: R * C)
            guard case .topP(let pv) = params else { break }
            let p = T(pv)
            for r in 0..<R {
                let row = x[(r * C)..<((r + 1) * C)]
                let total = row.reduce(0, +)
                let order = (0..<C).sorted { a, b in row[r * C + a] > row[r * C + b] || (row[r * C + a] == row[r * C + b] && a < b) }
                var kept: T = 0
                var n = 0
                while n < C && (n == 0 || kept < p * total) { kept += row[r * C + order[n]]; n += 1 }
                for c in order.prefix(n) { out[r * C + c] = row[r * C + c] / kept }
            }
        default:
            out = x
        }
        set(result, out)
    }

    func custom(result: Int32, source: Int32, rows: Int64, cols: Int64, count: Int64,
                kernel: @Sendable ([Double], Int, Int) -> [Double]) throws(NumericFailure) {
        let out = kernel(tiles[Int(source)].map(\.double), Int(rows), Int(cols))
        guard out.count == Int(count) else {
            throw NumericFailure(message: "the op's numeric kernel returned \(out.count) values for a result of \(count)")
        }
        set(result, out.map { T($0) })
    }

    /// Transformer positional encodings for positions start ..< start + rows: sin in even
    /// columns, cos in odd ones, at frequencies 10000^(-2i/cols) (Vaswani et al.), in Float64.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func sinusoidal(_ tile: Int32, start: Int64, rows: Int64, cols: Int64) {
        var out = [T](repeating: 0, count: Int(rows * cols))
        for r in 0..<Int(rows) {
            let pos = Double(start) + Double(r)
            for c in 0..<Int(cols) {
                let angle = pos / Foundation.pow(10000, Double(2 * (c / 2)) / Double(cols))
                out[r * Int(cols) + c] = T(c % 2 == 0 ? Foundation.sin(angle) : Foundation.cos(angle))
            }
        }
        set(tile, out)
    }
}
