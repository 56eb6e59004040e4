import XCTest
import CSQLite
@testable import DqliteNode

/// SQLite never writes the page that holds its pending byte (at 1 GiB), so a checkpoint of a database that
/// grows past 1 GiB writes the page after it next. Before this was handled, every such checkpoint failed
/// (SQLITE_IOERR_WRITE) and the WAL grew without end (found by big_db_bench.py, issue 21).
final class PendingBytePageTests: XCTestCase {
    /// A database of exactly 1 GiB, its pages sharing one array (no GiB of memory is taken).
    private func gibibyteImage(pageSize: Int) -> DatabaseImage {
        let db = DatabaseImage(name: "big")
        db.pageSize = pageSize
        db.pages = Array(repeating: [UInt8](repeating: 7, count: pageSize), count: 0x4000_0000 / pageSize)
        return db
    }

    func testTheWriteAfterThePendingBytePageFillsItWithZeros() {
        for pageSize in [4096, 65536] {
            let db = gibibyteImage(pageSize: pageSize)
            let pending = FileIO.pendingBytePageIndex(pageSize: pageSize)
            XCTAssertEqual(db.pages.count, pending, "the pending byte is the first byte past 1 GiB")
            let page = [UInt8](repeating: 9, count: pageSize)
            let rc = page.withUnsafeBytes { FileIO.write(db, $0.baseAddress!, pageSize, (pending + 1) * pageSize) }
            XCTAssertEqual(rc, SQLITE_OK, "page size \(pageSize)")
            XCTAssertEqual(db.pages.count, pending + 2)
            guard db.pages.count == pending + 2 else { continue }
            XCTAssertEqual(db.pages[pending], [UInt8](repeating: 0, count: pageSize), "the pending byte's page is zeros")
            XCTAssertEqual(db.pages[pending + 1], page)
            var read = [UInt8](repeating: 1, count: pageSize)
            let readRC = read.withUnsafeMutableBytes { FileIO.read(db, $0.baseAddress!, pageSize, pending * pageSize) }
            XCTAssertEqual(readRC, SQLITE_OK)
            XCTAssertEqual(read, [UInt8](repeating: 0, count: pageSize))
        }
    }

    func testAWriteThatLeavesAnyOtherGapIsRefused() {
        let pageSize = 65536
        let db = gibibyteImage(pageSize: pageSize)
        let page = [UInt8](repeating: 9, count: pageSize)
        let pending = FileIO.pendingBytePageIndex(pageSize: pageSize)
        let twoPast = page.withUnsafeBytes { FileIO.write(db, $0.baseAddress!, pageSize, (pending + 2) * pageSize) }
        XCTAssertNotEqual(twoPast, SQLITE_OK, "two pages past the end")
        db.pages.removeLast(10)
        let belowGiB = page.withUnsafeBytes { FileIO.write(db, $0.baseAddress!, pageSize, (db.pages.count + 1) * pageSize) }
        XCTAssertNotEqual(belowGiB, SQLITE_OK, "a page skipped below 1 GiB is not the pending byte's")
        XCTAssertEqual(db.pages.count, pending - 10)
    }
}
