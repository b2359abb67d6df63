/// Storage rounding: values are computed in Float32 (or Float64 for reference runs) and
/// rounded to a tensor's dtype when they are stored in it.
public enum StorageFormat: Sendable {
    case f32, f16, bf16, f8e4m3, int(bits: Int)

    /// Rounds `x` to the nearest representable value (ties to even); integers clamp to their range.
    @inline(__always)
    public func round(_ x: Float) -> Float {
        switch self {
        case .f32: return x
        case .f16: return Float(Float16(x))
        case .bf16: return Self.bfloat16(x)
        case .f8e4m3: return Self.e4m3(x)
        case .int(let bits):
            let hi = Float((1 << (bits - 1)) - 1), lo = -hi - 1
            return Swift.min(hi, Swift.max(lo, x.rounded(.toNearestOrEven)))
        }
    }

    /// bfloat16: keep the top 16 bits of the float32 pattern, rounding to nearest even.
    @inline(__always)
    static func bfloat16(_ x: Float) -> Float {
        guard x.isFinite else { return x }
        let bits = x.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }

    /// FP8 E4M3 (finite, max 448): 3 mantissa bits, exponent bias 7, subnormals below 2^-6.
    static func e4m3(_ x: Float) -> Float {
        guard x.isFinite else { return x.isNaN ? x : (x > 0 ? 448 : -448) }
        let a = Swift.abs(x)
        if a == 0 { return x }
        let e = Swift.max(-6, Int(a.exponent))
        let step = Float(sign: .plus, exponent: e - 3, significand: 1)
        let r = Swift.min(448, (a / step).rounded(.toNearestOrEven) * step)
        return x < 0 ? -r : r
    }
}
