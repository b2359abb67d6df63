import Testing
@testable import Analysis

@Suite struct BenchmarkTests {
    /// Ratios of runs paired in order: (1/2, 3/1) -> min 0.5, median 1.75 (of two, their mean), max 3.
    @Test func ratioSpreadPairsRunsInOrder() throws {
        let spread = try #require(NumericsBenchmark.ratioSpread([1, 3], [2, 1]))
        #expect(spread.min == 0.5 && spread.median == 1.75 && spread.max == 3)
        #expect(NumericsBenchmark.ratioSpread([], [1]) == nil)
    }
}
