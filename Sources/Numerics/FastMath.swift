import CVectorMath

/// exp over whole buffers. Numeric runs spend most of their non-matmul time in exp (softmax
/// and online-softmax tiles); a vectorised Cephes-style expf (range reduction by ln 2, a
/// degree-6 polynomial, 2^n from the exponent bits) is ~4x faster than calling libm per
/// element and stays within 2 ulp. Double keeps libm.
public enum FastMath {
    public static func exp(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float>) {
        // Whole groups of 8 in AVX2 registers where the CPU has them (the same operations,
        // so the same bits), the rest here.
        let done = src.baseAddress.flatMap { s in dst.baseAddress.map { gpusim_expf_avx2(s, $0, src.count) } } ?? 0
        exp(UnsafeBufferPointer(rebasing: src[done...]), portablyInto: UnsafeMutableBufferPointer(rebasing: dst[done...]))
    }

    /// exp on any CPU, in Swift SIMD (SSE on baseline x86-64).
    public static func exp(_ src: UnsafeBufferPointer<Float>, portablyInto dst: UnsafeMutableBufferPointer<Float>) {
        let n = src.count
        var i = 0
        if let s = src.baseAddress, let d = dst.baseAddress {
            while i + 8 <= n {
                let y = exp8(UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self))
                UnsafeMutableRawPointer(d + i).storeBytes(of: y, as: SIMD8<Float>.self)
                i += 8
            }
        }
        while i < n { dst[i] = exp1(src[i]); i += 1 }
    }

    @inline(__always)
    public static func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
        // Clamped with masks: the generic clamped/pointwiseMin are not inlined and run lane by lane.
        var x = input
        x.replace(with: -87.33654, where: x .< -87.33654)
        x.replace(with: 88.72283, where: x .> 88.72283)
        // Round x / ln 2 to an integer by adding 1.5 x 2^23: the float add rounds to nearest even
        // and the integer lands in the low mantissa bits (generic SIMD conversions are slow).
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = x * 1.44269504088896341 + magic
        let n = t - magic
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        var y = p * r * r + r + 1
        // 2^n as two factors, so that n = 128 or -126 never leaves the normal range.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let n1 = ni &>> 1, n2 = ni &- n1
        y *= unsafeBitCast((n1 &+ 127) &<< 23, to: SIMD8<Float>.self)
        y *= unsafeBitCast((n2 &+ 127) &<< 23, to: SIMD8<Float>.self)
        // Edges: results below the normal range flush to 0 (exp(-inf) must be exactly 0 for online softmax), overflow to inf, NaN stays NaN.
        y.replace(with: 0, where: input .< -87.33654)
        y.replace(with: .infinity, where: input .> 88.72283)
        y.replace(with: .nan, where: input .!= input)
        return y
    }

    /// Eight lanes at a time on the concrete SIMD type (generic SIMD code and the stdlib's
    /// pointwiseMax are not inlined and run lane by lane: measured ~7x slower).
    public static func max(_ p: UnsafePointer<Float>, count n: Int) -> Float {
        var v = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            v.replace(with: x, where: x .> v)
            i += 8
        }
        var m = v.max()
        while i < n { m = Swift.max(m, p[i]); i += 1 }
        return m
    }

    public static func sum(_ p: UnsafePointer<Float>, count n: Int) -> Float {
        var v = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n { v += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self); i += 8 }
        var s = v.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    @inline(__always)
    static func exp1(_ x: Float) -> Float { exp8(SIMD8(repeating: x))[0] }
}
