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

    /// The 8-bytes-a-step CRC gives libiberty's, byte by byte, for every length and start.
    func testTheFastCRCIsLibibertysCRC() {
        func bytewise(_ b: [UInt8], _ start: Int, _ count: Int) -> UInt32 {
            var crc: UInt32 = 0
            for byte in b[start..<(start + count)] {
                var c = ((crc >> 24) ^ UInt32(byte)) << 24
                for _ in 0..<8 { c = c & 0x8000_0000 != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1 }
                crc = (crc << 8) ^ c
            }
            return crc
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in [0, 1, 7] {
            for count in 0..<(bytes.count - start) { XCTAssertEqual(SegmentFileCheck.crc32(bytes, start, count), bytewise(bytes, start, count)) }
        }
        XCTAssertEqual(SegmentFileCheck.crc32(Array("123456789".utf8), 0, 9), 0x89A1_897F, "the value the byte-a-step table gave")
    }
}
