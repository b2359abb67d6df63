import Foundation

/// Whether each launch finds L2 empty, as Nsight Compute measures kernels by default
/// (`--cache-control all`), or finds what the launches before it left there (`none`).
public enum CacheMode: String, Sendable, Codable, CaseIterable {
    case flush, warm
}

/// The L2 of a real preset as one grid of thread blocks sees it (docs/model.md, "L2"): a
/// write-back cache of `capacity` effective bytes shared by all SMs. Blocks start in row-major
/// order of the grid's coordinates, `wave` at a time, and the least recently used data is
/// evicted first. Everything is derived from the loop nest: the grid's trip counts and, for
/// each tensor the grid names, which grid coordinates its slices depend on. A grid is assumed
/// to touch the whole of each tensor it names, spread evenly over the coordinates it depends on.
struct L2Grid {
    /// A tensor the grid names: its bytes, the grid levels its slices depend on (bit i: level
    /// i), and the fraction of it a previous launch left in L2 (`--cache warm`).
    struct Tensor: Equatable {
        var id: Int
        var bytes: Int64
        var dims: UInt64
        var carried = 0.0
    }

    /// Blocks per grid level, outermost first.
    let levels: [Int64]
    let wave: Int64
    let capacity: Double
    let tensors: [Tensor]
    let blocks: Int64
    /// The most recent blocks whose data all fits in L2: what they stored is still dirty there
    /// when the grid ends, and what they read is what the grid leaves in L2.
    private(set) var resident: Int64 = 0

    init(levels: [Int64], wave: Int64, capacity: Double, tensors: [Tensor]) {
        self.levels = levels
        self.wave = Swift.max(1, wave)
        self.capacity = capacity
        self.tensors = tensors
        var b: Int64 = 1
        for c in levels { b = b.multipliedReportingOverflow(by: Swift.max(0, c)).partialValue }
        blocks = b
        // The largest window whose footprint fits (footprints grow with the window).
        var lo: Int64 = 0, hi = blocks
        if footprint(hi) <= capacity { lo = hi }
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2
            if footprint(mid) <= capacity { lo = mid } else { hi = mid - 1 }
        }
        resident = lo
    }

    /// The number of distinct coordinates on `dims` among the first `g` blocks of the raster.
    func distinct(_ dims: UInt64, _ g: Int64, from level: Int = 0) -> Int64 {
        guard level < levels.count else { return g > 0 ? 1 : 0 }
        var inner: Int64 = 1
        for c in levels[(level + 1)...] { inner *= c }
        guard inner > 0 else { return 0 }
        let whole = g / inner, rest = g % inner
        if dims & (1 << level) != 0 { return whole * span(dims, from: level + 1) + distinct(dims, rest, from: level + 1) }
        return whole >= 1 ? span(dims, from: level + 1) : distinct(dims, rest, from: level + 1)
    }

    /// Distinct coordinates on `dims` over the whole grid (from `level` in).
    func span(_ dims: UInt64, from level: Int = 0) -> Int64 {
        var s: Int64 = 1
        for l in level..<levels.count where dims & (1 << l) != 0 { s *= levels[l] }
        return s
    }

    /// The bytes `g` consecutive blocks touch: each tensor in proportion to the coordinates
    /// they cover.
    func footprint(_ g: Int64) -> Double {
        var total = 0.0
        for t in tensors { total += Double(t.bytes) * Double(distinct(t.dims, g)) / Double(Swift.max(1, span(t.dims))) }
        return total
    }

    /// DRAM fetches per request of a load whose slice depends on the grid levels `dims`.
    /// Blocks with the same coordinates on `dims` read the same tile. The first of them fetches
    /// it (unless a previous launch left it, `carried`); each later one finds it in L2 when it
    /// runs in the same wave, or when what the blocks between them touch still fits.
    /// Consecutive blocks of one coordinate are apart by fixed raster gaps: stepping the
    /// innermost free level, or stepping an outer one while the inner ones wrap around.
    func readShare(_ dims: UInt64, carried: Double = 0) -> Double {
        guard blocks > 0 else { return 1 }
        let free = levels.indices.filter { dims & (1 << $0) == 0 }
        guard !free.isEmpty else { return 1 - carried }
        var pitch = [Int64](repeating: 1, count: levels.count)
        for l in stride(from: levels.count - 2, through: 0, by: -1) { pitch[l] = pitch[l + 1] * levels[l + 1] }
        var fetches = 1 - carried
        var outerBlocks = 1.0        // coordinates of the free levels outside the one stepped
        for (k, l) in free.enumerated() {
            var gap = pitch[l]
            for j in free[(k + 1)...] { gap -= (levels[j] - 1) * pitch[j] }
            let steps = Double(levels[l] - 1) * outerBlocks
            outerBlocks *= Double(levels[l])
            guard steps > 0 else { continue }
            let otherWave = Swift.min(1, Double(gap) / Double(wave))
            if footprint(Swift.min(blocks, Swift.max(gap, wave))) > capacity { fetches += steps * otherWave }
        }
        return fetches / outerBlocks
    }

    /// The fraction of stored bytes written to DRAM while the grid runs: all but the last
    /// `resident` blocks' stores are evicted before it ends.
    var writeShare: Double { blocks > 0 ? 1 - Double(resident) / Double(blocks) : 1 }

    /// What the grid leaves in L2 for the next launch (`--cache warm`): the fraction of each
    /// tensor the last `resident` blocks touched, and what was carried in before, when the
    /// grid's own data left room for it.
    func leftBehind(after carried: [Int: Double], sizes: [Int: Int64]) -> [Int: Double] {
        var out: [Int: Double] = [:]
        let used = footprint(resident)
        let room = Swift.max(0, capacity - used)
        let older = carried.filter { c in !tensors.contains { $0.id == c.key } }
        let olderBytes = older.reduce(0.0) { $0 + $1.value * Double(sizes[$1.key] ?? 0) }
        let keep = olderBytes > 0 ? Swift.min(1, room / olderBytes) : 0
        for (id, f) in older where keep > 0 { out[id] = f * keep }
        for t in tensors { out[t.id] = Swift.min(1, (out[t.id] ?? 0) + Double(distinct(t.dims, resident)) / Double(Swift.max(1, span(t.dims)))) }
        return out
    }
}
