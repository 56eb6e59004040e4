@testable import DqliteNode
import XCTest

/// C-Raft segment files read before C-Raft does: a segment closed (truncated after its last batch) whose
/// rename was lost to a power loss is intact; a cut through a batch is damage.
final class SegmentFileCheckTests: XCTestCase {
    /// A segment: the format version, then one batch of `entries` 8-byte command entries of term 1.
    private func segment(entries: Int) -> [UInt8] {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        var header = le(UInt64(entries), 8)
        for _ in 0..<entries { header += le(1, 8) + [1, 0, 0, 0] + le(8, 4) }
        let data = [UInt8](repeating: 0xAB, count: 8 * entries)
        let headerCRC = SegmentFileCheck.crc32(header, 0, header.count), dataCRC = SegmentFileCheck.crc32(data, 0, data.count)
        return le(1, 8) + le(UInt64(headerCRC), 4) + le(UInt64(dataCRC), 4) + header + data
    }

    func testAnIntactSegmentShorterThanItsPreallocationIsNoDamage() {
        let closed = segment(entries: 3)
        XCTAssertNil(SegmentFileCheck.openProblem(closed, expectedSize: 8 << 20), "truncated to close it, rename lost")
        XCTAssertNil(SegmentFileCheck.openProblem(closed + [UInt8](repeating: 0, count: 4096), expectedSize: 8 << 20),
                     "cut in the zeros after the entries: nothing lost")
        let cut = Array(closed.dropLast(5))
        XCTAssertNotNil(SegmentFileCheck.openProblem(cut, expectedSize: 8 << 20), "a cut through the batch is damage")
        XCTAssertNil(SegmentFileCheck.openProblem(cut + [UInt8](repeating: 0, count: (8 << 20) - cut.count), expectedSize: 8 << 20),
                     "at full size, a damaged last batch is a torn write")
    }
}
