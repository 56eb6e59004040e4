import XCTest
@testable import DqliteNode

final class EntryCountBudgetTests: XCTestCase {
    /// Feeds `count` entries of `bytes` through the average into the budget, as the engine does.
    private func apply(_ count: Int, of bytes: Int, _ average: inout EntrySizeAverage, _ budget: inout EntryCountBudget) -> UInt32? {
        var changed: UInt32?
        for _ in 0..<count where average.note(entryBytes: bytes) {
            if let c = budget.update(averageBytes: average.bytes) { changed = c }
        }
        return changed
    }

    func testSmallEntriesKeepTheConfiguredCountAndBigOnesFewer() {
        var average = EntrySizeAverage()
        var t = EntryCountBudget(configured: 8192, budgetBytes: 64 << 20, floor: 256)
        XCTAssertNil(apply(1000, of: 8 << 10, &average, &t), "8 KiB entries: 8192 of them fit 64 MiB")
        XCTAssertEqual(t.current, 8192)
        let changed = apply(1000, of: 64 << 10, &average, &t)
        XCTAssertEqual(t.current, changed)
        XCTAssertTrue((900...1200).contains(t.current), "64 KiB entries: about 1024 of them, got \(t.current)")
        _ = apply(2000, of: 1 << 20, &average, &t)
        XCTAssertEqual(t.current, 256, "never below the floor")
    }

    func testAConfiguredCountBelowTheFloorIsKept() {
        var average = EntrySizeAverage()
        var t = EntryCountBudget(configured: 128, budgetBytes: 1 << 20, floor: 256)
        _ = apply(500, of: 1 << 20, &average, &t)
        XCTAssertEqual(t.current, 128)
    }

    /// The threshold of a load in big transactions: after a few dozen entries of 1.3 MB, C-Raft asks for a
    /// snapshot every few entries instead of every 1024 (1.3 GB).
    func testTheThresholdFollowsBigEntriesWithinAFewDozen() {
        var average = EntrySizeAverage()
        var t = EntryCountBudget(configured: 1024, budgetBytes: 16 << 20, floor: 8)
        var applied = 0
        while t.current > 16 && applied < 200 {
            _ = apply(1, of: 1_300_000, &average, &t)
            applied += 1
        }
        XCTAssertLessThanOrEqual(applied, 64, "the count followed within \(applied) entries")
        _ = apply(200, of: 1_300_000, &average, &t)
        XCTAssertEqual(t.current, 12, "16 MiB of 1.3 MB entries")
    }

    /// One average feeds both counts: each follows it to its own budget.
    func testOneAverageFeedsTheTrailingAndTheThreshold() {
        var average = EntrySizeAverage()
        var trailing = EntryCountBudget(configured: 8192, budgetBytes: 8 << 20, floor: 64)
        var threshold = EntryCountBudget(configured: 1024, budgetBytes: 16 << 20, floor: 8)
        for _ in 0..<400 where average.note(entryBytes: 64 << 10) {
            _ = trailing.update(averageBytes: average.bytes)
            _ = threshold.update(averageBytes: average.bytes)
        }
        XCTAssertTrue((115...141).contains(trailing.current), "8 MiB of 64 KiB entries, got \(trailing.current)")
        XCTAssertTrue((230...282).contains(threshold.current), "16 MiB of 64 KiB entries, got \(threshold.current)")
    }
}
