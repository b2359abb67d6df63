import Foundation

/// The two arithmetic precisions of numeric runs: Float (the default, as GPUs compute) and
/// Double (`--accumulate f64`, a reference).
public protocol NumericScalar: BinaryFloatingPoint, Sendable {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    init(_ d: Double)
    var double: Double { get }
    /// exp of a whole buffer (vectorised for Float).
    static func exp(_ src: UnsafeBufferPointer<Self>, into dst: UnsafeMutableBufferPointer<Self>)
    /// The largest and the sum of `count` values (vectorised for Float).
    static func max(_ values: UnsafePointer<Self>, count: Int) -> Self
    static func sum(_ values: UnsafePointer<Self>, count: Int) -> Self
}

extension Float: NumericScalar {
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { Foundation.erff(x) }
    public var double: Double { Double(self) }
    public static func exp(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float>) { FastMath.exp(src, into: dst) }
    public static func max(_ values: UnsafePointer<Float>, count: Int) -> Float { FastMath.max(values, count: count) }
    public static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float { FastMath.sum(values, count: count) }
}

extension Double: NumericScalar {
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inline(__always) public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
    public var double: Double { self }
    public static func exp(_ src: UnsafeBufferPointer<Double>, into dst: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<src.count { dst[i] = Foundation.exp(src[i]) }
    }
    public static func max(_ values: UnsafePointer<Double>, count: Int) -> Double {
        var m = -Double.infinity
        for i in 0..<count { m = Swift.max(m, values[i]) }
        return m
    }
    public static func sum(_ values: UnsafePointer<Double>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += values[i] }
        return s
    }
}
