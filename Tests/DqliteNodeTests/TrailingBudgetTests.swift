import XCTest
@testable import DqliteNode

final class TrailingBudgetTests: XCTestCase {
    func testSmallEntriesKeepTheConfiguredCountAndBigOnesFewer() {
        var t = TrailingBudget(configured: 8192, budgetBytes: 64 << 20)
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
        var t = TrailingBudget(configured: 128, budgetBytes: 1 << 20)
        for _ in 0..<500 { _ = t.note(entryBytes: 1 << 20) }
        XCTAssertEqual(t.current, 128)
    }
}
