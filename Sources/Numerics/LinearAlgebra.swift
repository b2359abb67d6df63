import Dispatch

/// Dense row-major kernels used by `--numeric` runs. Generic so that the same code runs in
/// Float32 (the default) and Float64 (reference runs); `@inlinable` so callers specialise it.
public enum LinearAlgebra {
    /// C (m x n) = op(A) @ op(B), where op(A) is m x k and op(B) is k x n; A is stored as
    /// (aT ? k x m : m x k) and B as (bT ? n x k : k x n). Rows of C are split across cores.
    @inlinable
    public static func matmul<T: BinaryFloatingPoint>(_ a: [T], transposeA aT: Bool, _ b: [T], transposeB bT: Bool,
                                                      m: Int, k: Int, n: Int) -> [T] {
        // Contiguous op(A) rows and op(B) as k x n, so the inner loop streams both.
        let A = aT ? transpose(a, rows: k, cols: m) : a
        let B = bT ? transpose(b, rows: n, cols: k) : b
        var C = [T](repeating: 0, count: m * n)
        let blocks = m >= 64 && m * n * k >= 1 << 20 ? 2 : 1
        C.withUnsafeMutableBufferPointer { c in
            let cBase = c.baseAddress!
            A.withUnsafeBufferPointer { ap in
                B.withUnsafeBufferPointer { bp in
                    let ptrs = Pointers(a: ap.baseAddress!, b: bp.baseAddress!, c: cBase)
                    DispatchQueue.concurrentPerform(iterations: blocks) { blk in
                        let aBase = ptrs.a, bBase = ptrs.b, cBase = ptrs.c
                        let lo = m * blk / blocks, hi = m * (blk + 1) / blocks
                        var i = lo
                        // Four rows of C at a time: one load of B feeds four multiply-adds.
                        while i + 4 <= hi {
                            let c0 = cBase + i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n
                            for p in 0..<k {
                                let a0 = aBase[i * k + p], a1 = aBase[(i + 1) * k + p]
                                let a2 = aBase[(i + 2) * k + p], a3 = aBase[(i + 3) * k + p]
                                let brow = bBase + p * n
                                for j in 0..<n {
                                    let bv = brow[j]
                                    c0[j] += a0 * bv; c1[j] += a1 * bv; c2[j] += a2 * bv; c3[j] += a3 * bv
                                }
                            }
                            i += 4
                        }
                        while i < hi {
                            let c0 = cBase + i * n
                            for p in 0..<k {
                                let a0 = aBase[i * k + p], brow = bBase + p * n
                                for j in 0..<n { c0[j] += a0 * brow[j] }
                            }
                            i += 1
                        }
                    }
                }
            }
        }
        return C
    }

    /// Raw pointers shared by the row blocks; each block writes its own rows of C only.
    @usableFromInline
    struct Pointers<T>: @unchecked Sendable {
        @usableFromInline let a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>
        @usableFromInline init(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>) { self.a = a; self.b = b; self.c = c }
    }

    @inlinable
    public static func transpose<T>(_ x: [T], rows: Int, cols: Int) -> [T] {
        guard rows > 0 && cols > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: rows * cols) { out, count in
            for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
            count = rows * cols
        }
    }
}
