import Foundation
import Testing
@testable import Simulator

/// The L2 model's arithmetic against brute force and against its limits (docs/model.md, "L2").
@Suite struct L2ModelTests {
    func grid(_ levels: [Int64], wave: Int64 = 10, capacity: Double, _ tensors: [L2Grid.Tensor] = []) -> L2Grid {
        L2Grid(levels: levels, wave: wave, capacity: capacity, tensors: tensors)
    }

    @Test func distinctCoordinatesMatchEnumeratingTheRaster() {
        // Every window [0, g) of a 3 x 4 x 5 grid, every subset of levels: count the distinct
        // projections of the blocks by walking them in row-major order.
        let levels: [Int64] = [3, 4, 5]
        let g = grid(levels, capacity: 0)
        for mask in UInt64(0)..<8 {
            for n in Int64(0)...60 {
                var seen = Set<[Int64]>()
                for b in 0..<n {
                    let coords = [b / 20, b / 5 % 4, b % 5]
                    seen.insert((0..<3).filter { mask & (1 << $0) != 0 }.map { coords[$0] })
                }
                #expect(g.distinct(mask, n) == Int64(seen.count), "mask \(mask), first \(n) blocks")
            }
        }
    }

    @Test func aLargeL2FetchesEachTileOnce() {
        // With room for everything, a tile is fetched by the first block that needs it only:
        // DRAM fetches per request = distinct coordinates / blocks.
        let g = grid([4, 8], capacity: 1e18, [.init(id: 0, bytes: 1 << 20, dims: 0b01), .init(id: 1, bytes: 1 << 20, dims: 0b10)])
        #expect(g.readShare(0b00) == 1.0 / 32)      // one tile for everyone
        #expect(g.readShare(0b01) == 4.0 / 32)      // by row
        #expect(g.readShare(0b10) == 8.0 / 32)      // by column
        #expect(g.readShare(0b11) == 1)             // private to each block
        #expect(g.writeShare == 0)                  // everything stored is still dirty at the end
        // A previous launch left half of a tensor: half the first fetches go.
        #expect(g.readShare(0b10, carried: 0.5) == 4.0 / 32)
    }

    @Test func withoutRoomOnlyTheBlocksOfOneWaveShare() {
        // No capacity: a tile is shared only by blocks running together. Consecutive blocks of
        // one column are 8 apart in the raster, so 8 in 10 such pairs straddle two waves of 10:
        // per column 1 + 3 x 0.8 fetches (the exact count over the waves 0-9, 10-19, 20-29,
        // 30-31 is 26 / 8 = 3.25 a column).
        let g = grid([4, 8], capacity: 0, [.init(id: 0, bytes: 1, dims: 0b11)])
        #expect(abs(g.readShare(0b10) - (1 + 3 * 0.8) / 4) < 1e-12)
        // A tile everyone reads: each step to the next block crosses a wave boundary 1 time in 10.
        #expect(abs(g.readShare(0b00) - (1 + 31 * 0.1) / 32) < 1e-12)
        #expect(g.readShare(0b11) == 1)
        #expect(g.writeShare == 1)
    }

    @Test func theDirtyTailIsTheBlocksWhoseDataFits() {
        // 100 blocks each reading a private 1 MB and writing a private 1 MB: 2 MB a block. With
        // 20 MB usable the last 10 blocks' stores are still in L2 when the grid ends.
        let mb: Int64 = 1 << 20
        let g = grid([100], capacity: Double(20 * mb), [.init(id: 0, bytes: 100 * mb, dims: 1), .init(id: 1, bytes: 100 * mb, dims: 1)])
        #expect(g.resident == 10)
        #expect(abs(g.writeShare - 0.9) < 1e-12)
        // What it leaves for a warm next launch: a tenth of each tensor.
        let left = g.leftBehind(after: [:], sizes: [:])
        #expect(abs(left[0]! - 0.1) < 1e-12 && abs(left[1]! - 0.1) < 1e-12)
    }
}
