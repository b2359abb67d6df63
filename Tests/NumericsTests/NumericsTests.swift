import Foundation
import Testing
import Foundation
@testable import Numerics

@Suite struct RoundingTests {
    @Test func halfPrecision() {
        #expect(StorageFormat.f16.round(1.0009765625) == 1.0009765625)   // 1 + 2^-10 is representable
        #expect(StorageFormat.f16.round(1.00048828125) == 1.0)          // halfway: ties to even
        #expect(StorageFormat.f16.round(70000) == .infinity)
    }

    @Test func bfloat16TiesToEven() {
        #expect(StorageFormat.bf16.round(1.00390625) == 1.0)            // 1 + 2^-8: halfway, even is 1.0
        #expect(StorageFormat.bf16.round(1.01171875) == 1.015625)       // 1 + 3*2^-8: halfway, even is up
        #expect(StorageFormat.bf16.round(3.0) == 3.0)
        #expect(StorageFormat.bf16.round(-2.0078125) == -2.0)
    }

    @Test func fp8AndIntegers() {
        #expect(StorageFormat.f8e4m3.round(1000) == 448)
        #expect(StorageFormat.f8e4m3.round(1.0625) == 1.0)              // 3 mantissa bits: step 0.125 near 1
        #expect(StorageFormat.f8e4m3.round(1.1875) == 1.25)
        #expect(StorageFormat.int(bits: 8).round(300) == 127)
        #expect(StorageFormat.int(bits: 4).round(-9.4) == -8)
        #expect(StorageFormat.int(bits: 4).round(2.5) == 2)
    }
}

@Suite struct NPYTests {
    @Test func roundTripsFloat32() throws {
        let values: [Float] = [1.5, -2.25, 0, 3e-8, 7, 8]
        let path = NSTemporaryDirectory() + "gpusim-npy-\(getpid()).npy"
        defer { unlink(path) }
        try NPY.encode(shape: [2, 3], values: values).write(to: URL(fileURLWithPath: path))
        let a = try NPY.parse(Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        #expect(a.shape == [2, 3])
        #expect(a.values == values.map(Double.init))
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect((raw.count - 24) % 16 == 0 || raw.count > 0)
        #expect(raw[8] + raw[9] * 255 > 0)
    }

    @Test func rejectsBadFiles() throws {
        let path = NSTemporaryDirectory() + "gpusim-bad-\(getpid()).npy"
        defer { unlink(path) }
        try Data("not numpy".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: NPY.Failure.self) { try NPY.parse(Data(contentsOf: URL(fileURLWithPath: path)), path: path) }
        var good = NPY.encode(shape: [4], values: [1, 2, 3, 4])
        good.removeLast(3)
        try good.write(to: URL(fileURLWithPath: path))
        #expect { try NPY.parse(Data(contentsOf: URL(fileURLWithPath: path)), path: path) } throws: { "\($0)".contains("truncated data") }
    }
}

@Suite struct LinearAlgebraTests {
    func naive(_ a: [Double], _ aT: Bool, _ b: [Double], _ bT: Bool, m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            let x = aT ? a[p * m + i] : a[i * k + p]
            let y = bT ? b[j * k + p] : b[p * n + j]
            c[i * n + j] += x * y
        } } }
        return c
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmulMatchesNaive(_ aT: Bool, _ bT: Bool) {
        var rng = SeededRandom(seed: 3)
        let (m, k, n) = (67, 13, 130)
        let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
        let got = LinearAlgebra.matmul(a, transposeA: aT, b, transposeB: bT, m: m, k: k, n: n)
        let want = naive(a, aT, b, bT, m: m, k: k, n: n)
        #expect(Comparison(got, reference: want).maxAbsError < 1e-12)
    }

    @Test func comparisonFindsTheWorstElement() {
        let c = Comparison([1, 2, 3.5, 4], reference: [1, 2, 3, 4])
        #expect(c.maxAbsError == 0.5 && c.worstIndex == 2)
        #expect(abs(c.relativeFrobenius - 0.5 / 30.0.squareRoot()) < 1e-15)
        #expect(Comparison.unflatten(7, [2, 4]) == [1, 3])
        #expect(Comparison([.nan], reference: [1]).nonFinite == 1)
    }

    @Test func seededNormalsAreStable() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        let xs = (0..<1000).map { _ in a.normal() }
        #expect(xs == (0..<1000).map { _ in b.normal() })
        let mean = xs.reduce(0, +) / 1000
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000
        #expect(abs(mean) < 0.1 && abs(variance - 1) < 0.15)
    }
}

@Suite struct FastMathTests {
    @Test func vectorisedMaxAndSumMatchScalarLoops() {
        var rng = SeededRandom(seed: 7)
        for n in [0, 1, 7, 8, 9, 95, 199, 1024] {
            let xs = (0..<n).map { _ in Float(rng.normal() * 10) }
            xs.withUnsafeBufferPointer { p in
                let base = p.baseAddress ?? UnsafePointer(bitPattern: 8)!
                #expect(FastMath.max(base, count: n) == (xs.max() ?? -.infinity))
                let exact = xs.reduce(0.0) { $0 + Double($1) }
                #expect(abs(Double(FastMath.sum(base, count: n)) - exact) <= 1e-5 * max(1, xs.reduce(0) { $0 + Double(abs($1)) }))
            }
        }
        let withInf: [Float] = [-.infinity, -.infinity, -3, -.infinity, -1, -.infinity, -.infinity, -.infinity, -.infinity]
        withInf.withUnsafeBufferPointer { #expect(FastMath.max($0.baseAddress!, count: 9) == -1) }
    }

    @Test func vectorisedExpIsWithinTwoUlps() {
        var rng = SeededRandom(seed: 8)
        let xs: [Float] = (0..<100_000).map { _ in Float(rng.uniform() * 180 - 90) } + [0, -0.0, 1, -1, 88.7, -87.3, 1e-8]
        var out = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { FastMath.exp(s, into: $0) } }
        var worst: Float = 0
        for (x, y) in zip(xs, out) {
            let want = Foundation.expf(x)
            guard want.isNormal else { continue }
            worst = max(worst, abs(y - want) / want.ulp)
        }
        #expect(worst <= 2)
    }

    /// The AVX2 path (where this CPU has it) gives the portable path's bits, edges included,
    /// so a result does not depend on which one ran.
    @Test func avx2AndPortableExpAgreeBitForBit() {
        var rng = SeededRandom(seed: 9)
        let xs: [Float] = (0..<100_003).map { _ in Float(rng.uniform() * 200 - 100) }
            + [-.infinity, .infinity, .nan, -87.33654, 88.72283, -87.3365, 88.7228, 0, -0.0, 1e-30, -1e-30]
        var fast = [Float](repeating: 0, count: xs.count), portable = fast
        xs.withUnsafeBufferPointer { s in
            fast.withUnsafeMutableBufferPointer { FastMath.exp(s, into: $0) }
            portable.withUnsafeMutableBufferPointer { FastMath.exp(s, portablyInto: $0) }
        }
        #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern))
    }

    @Test func edgesMatchLibm() {
        let xs: [Float] = [-.infinity, .infinity, .nan, -100, 100, -87.4, 88.8, 0]
        var out = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { FastMath.exp(s, into: $0) } }
        #expect(out[0] == 0 && out[1] == .infinity && out[2].isNaN && out[3] == 0 && out[4] == .infinity)
        #expect(out[5] == 0 && out[6] == .infinity && out[7] == 1)
    }
}
