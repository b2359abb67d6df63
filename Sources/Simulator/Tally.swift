/// The additive counters of a run. Loop fast-forwarding compares the tallies of two
/// iterations and adds one iteration's difference for each skipped one, so everything the
/// summary reports must be derivable from these integers.
struct Tally: Equatable {
    var readBytes: Int64 = 0
    var writeBytes: Int64 = 0
    var flops: Int64 = 0
    var matmulFlops: Int64 = 0
    var tensorCoreFlops: Int64 = 0
    var elementwiseFlops: Int64 = 0
    var specialFlops: Int64 = 0
    var loads: Int64 = 0
    var stores: Int64 = 0
    var computes: Int64 = 0
    var launches: Int64 = 0
    var overflows: Int64 = 0

    nonisolated(unsafe) static let fields: [WritableKeyPath<Tally, Int64>] = [
        \.readBytes, \.writeBytes, \.flops, \.matmulFlops, \.tensorCoreFlops, \.elementwiseFlops,
        \.specialFlops, \.loads, \.stores, \.computes, \.launches, \.overflows,
    ]

    static func - (a: Tally, b: Tally) -> Tally {
        var out = Tally()
        for f in fields { out[keyPath: f] = a[keyPath: f] - b[keyPath: f] }
        return out
    }

    /// Adds `times` copies of `delta`, refusing to wrap around.
    mutating func add(_ delta: Tally, times: Int64) throws(SimulationError) {
        for f in Self.fields {
            let (p, o1) = delta[keyPath: f].multipliedReportingOverflow(by: times)
            let (s, o2) = self[keyPath: f].addingReportingOverflow(p)
            if o1 || o2 { throw .input("a counter overflowed 64 bits (the run is too large to count exactly)") }
            self[keyPath: f] = s
        }
    }

    mutating func addFlops(_ n: Int64, special: Bool) throws(SimulationError) {
        let (t, o) = flops.addingReportingOverflow(n)
        if o { throw .input("the FLOP count overflowed 64 bits") }
        flops = t
        if special { specialFlops &+= n } else { elementwiseFlops &+= n }
    }

    mutating func addMatmul(_ n: Int64, tensorCore: Bool) throws(SimulationError) {
        let (t, o) = flops.addingReportingOverflow(n)
        if o { throw .input("the FLOP count overflowed 64 bits") }
        flops = t
        matmulFlops &+= n
        if tensorCore { tensorCoreFlops &+= n }
    }
}
