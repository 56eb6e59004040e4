import XCTest
@testable import DqliteNode

final class EntryCountBudgetTests: XCTestCase {
    func testSmallEntriesKeepTheConfiguredCountAndBigOnesFewer() {
        var t = EntryCountBudget(configured: 8192, budgetBytes: 64 << 20, floor: 256)
        for _ in 0..<1000 { XCTAssertNil(t.note(entryBytes: 8 << 10), "8 KiB entries: 8192 of them fit 64 MiB") }
        XCTAssertEqual(t.current, 8192)
        var changed: UInt32?
        for _ in 0..<1000 { if let c = t.note(entryBytes: 64 << 10) { changed = c } }
        XCTAssertEqual(t.current, changed)
        XCTAssertTrue((900...1200).contains(t.current), "64 KiB entries: about 1024 of them, got \(t.current)")
        for _ in 0..<2000 { _ = t.note(entryBytes: 1 << 20) }
        XCTAssertEqual(t.current, 256, "never below the floor")
    }

    func testAConfiguredCountBelowTheFloorIsKept() {
        var t = EntryCountBudget(configured: 128, budgetBytes: 1 << 20, floor: 256)
        for _ in 0..<500 { _ = t.note(entryBytes: 1 << 20) }
        XCTAssertEqual(t.current, 128)
    }

    /// The threshold of a load in big transactions: after a few dozen entries of 1.3 MB, C-Raft asks for a
    /// snapshot every few entries instead of every 1024 (1.3 GB).
    func testTheThresholdFollowsBigEntriesWithinAFewDozen() {
        var t = EntryCountBudget(configured: 1024, budgetBytes: 16 << 20, floor: 8)
        var applied = 0
        while t.current > 16 && applied < 200 {
            _ = t.note(entryBytes: 1_300_000)
            applied += 1
        }
        XCTAssertLessThanOrEqual(applied, 64, "the count followed within \(applied) entries")
        for _ in 0..<200 { _ = t.note(entryBytes: 1_300_000) }
        XCTAssertEqual(t.current, 12, "16 MiB of 1.3 MB entries")
    }
}
