import Foundation

/// A small deterministic generator (SplitMix64) so that `--seed 7` gives the same inputs
/// on every machine, with standard normal samples by Box-Muller.
public struct SeededRandom {
    var state: UInt64
    var spare: Double?
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    public mutating func normal() -> Double {
        if let s = spare { spare = nil; return s }
        var u = uniform()
        while u == 0 { u = uniform() }
        let v = uniform()
        let r = (-2 * log(u)).squareRoot()
        spare = r * sin(2 * .pi * v)
        return r * cos(2 * .pi * v)
    }
}
