import Foundation
import Simulator

/// SRAM occupancy and cumulative HBM traffic over simulated time, from a run or a trace.
/// Keeps one point per change, and at most `limit` points (coarsened by time buckets that keep
/// each bucket's peak), so memory stays bounded for long traces.
public final class Timeline: EventSink {
    public struct Sample: Sendable { public var time: Double; public var sram: Int64; public var traffic: Int64 }
    public private(set) var samples: [Sample] = []
    public private(set) var overflows: [(time: Double, bytes: Int64, loc: String)] = []
    var traffic: Int64 = 0
    let limit: Int

    public init(limit: Int = 20_000) { self.limit = limit }

    public func record(_ e: Event) {
        if e.kind == .load || e.kind == .store { traffic += e.dramBytes }
        // A measured launch carries what DRAM read and wrote while it ran.
        if e.kind == .launch { traffic += e.dramBytes + e.dramWriteBytes }
        if e.kind == .overflow, overflows.count < 1000 { overflows.append((e.time, e.bytes, e.loc)) }
        if let last = samples.last, last.sram == e.sramBytes, last.traffic == traffic { return }
        samples.append(Sample(time: e.time, sram: e.sramBytes, traffic: traffic))
        if samples.count > limit { coarsen() }
    }

    /// Halves the samples, keeping the higher SRAM occupancy of each pair (peaks stay visible).
    func coarsen() {
        var out: [Sample] = []
        out.reserveCapacity(samples.count / 2 + 1)
        var i = 0
        while i < samples.count {
            if i + 1 < samples.count {
                let a = samples[i], b = samples[i + 1]
                out.append(Sample(time: b.time, sram: max(a.sram, b.sram), traffic: b.traffic))
            } else { out.append(samples[i]) }
            i += 2
        }
        samples = out
    }
}
