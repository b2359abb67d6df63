/// How far one array of values is from another (the reference).
public struct Comparison: Sendable {
    public var maxAbsError: Double
    public var relativeFrobenius: Double
    /// Flat index of the element with the largest absolute error.
    public var worstIndex: Int
    public var worstValue: Double
    public var worstReference: Double
    /// Elements where one side is NaN or infinite and the other is not (or they differ).
    public var nonFinite: Int

    public init(_ values: [Double], reference: [Double]) {
        var maxAbs = 0.0, worst = 0, diff2 = 0.0, ref2 = 0.0, bad = 0
        for i in 0..<min(values.count, reference.count) {
            let a = values[i], b = reference[i]
            if !a.isFinite || !b.isFinite {
                if !(a == b || (a.isNaN && b.isNaN)) { bad += 1 }
                continue
            }
            let e = abs(a - b)
            diff2 += e * e
            ref2 += b * b
            if e > maxAbs { maxAbs = e; worst = i }
        }
        maxAbsError = maxAbs
        relativeFrobenius = ref2 > 0 ? (diff2 / ref2).squareRoot() : diff2.squareRoot()
        worstIndex = worst
        worstValue = values.isEmpty ? 0 : values[worst]
        worstReference = reference.isEmpty ? 0 : reference[worst]
        nonFinite = bad
    }

    /// Row-major flat index -> multi-index for a shape.
    public static func unflatten(_ i: Int, _ shape: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: shape.count)
        var r = i
        for d in stride(from: shape.count - 1, through: 0, by: -1) { out[d] = r % max(1, shape[d]); r /= max(1, shape[d]) }
        return out
    }
}
