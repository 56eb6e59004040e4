import XCTest
import CLZ4
@testable import DqliteNode

/// The check that keeps a damaged compressed snapshot from hanging C-Raft's raft_start.
final class SnapshotFileCheckTests: XCTestCase {
    private func lz4Frame(_ bytes: [UInt8]) -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        var out = [UInt8](repeating: 0, count: LZ4F_compressFrameBound(bytes.count, &prefs))
        let n = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in LZ4F_compressFrame(dst.baseAddress, dst.count, src.baseAddress, src.count, &prefs) }
        }
        XCTAssertEqual(LZ4F_isError(n), 0)
        return Array(out.prefix(n))
    }

    func testACompleteFrameOrAnUncompressedFileIsAcceptedAndDamageIsNot() throws {
        let dir = NSTemporaryDirectory() + "snapcheck-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var g = SystemRandomNumberGenerator()
        let data = (0..<300_000).map { i in i % 7 == 0 ? UInt8.random(in: 0...255, using: &g) : UInt8(i % 251) }
        let frame = lz4Frame(data)
        let path = dir + "/snapshot-1-10-100"
        func write(_ bytes: [UInt8]) { FileManager.default.createFile(atPath: path, contents: Data(bytes)) }
        FileManager.default.createFile(atPath: path + ".meta", contents: Data([1]))

        write(frame)
        XCTAssertNil(SnapshotFileCheck.problem(inFile: path))
        XCTAssertNoThrow(try SnapshotFileCheck.check(dir: dir))

        write(Array(frame.prefix(frame.count / 2)))
        XCTAssertNotNil(SnapshotFileCheck.problem(inFile: path), "truncated")
        XCTAssertThrowsError(try SnapshotFileCheck.check(dir: dir)) { error in
            XCTAssertTrue("\(error)".contains("snapshot-1-10-100 is damaged"), "\(error)")
        }

        var flipped = frame
        for i in (frame.count / 2)..<(frame.count / 2 + 16) { flipped[i] = ~flipped[i] }
        write(flipped)
        XCTAssertNotNil(SnapshotFileCheck.problem(inFile: path), "bytes flipped")

        write([1, 2, 3, 4, 5, 6, 7, 8])  // not an LZ4 frame: left to the FSM's decoder
        XCTAssertNil(SnapshotFileCheck.problem(inFile: path))

        // A frame of several of the check's 1 MiB reads: whole, cut short in a later read, with bytes after it.
        let big = lz4Frame((0..<3_000_000).map { _ in UInt8.random(in: 0...255, using: &g) })
        XCTAssertGreaterThan(big.count, 2 << 20)
        write(big)
        XCTAssertNil(SnapshotFileCheck.problem(inFile: path))
        write(Array(big.prefix((5 << 20) / 2)))
        XCTAssertEqual(SnapshotFileCheck.problem(inFile: path), "truncated LZ4 frame")
        write(big + [UInt8](repeating: 0, count: 3))
        XCTAssertEqual(SnapshotFileCheck.problem(inFile: path), "3 bytes after the end of the frame")
        XCTAssertEqual(SnapshotFileCheck.readAll(path), big + [0, 0, 0])
    }

    /// Only the snapshot C-Raft loads is checked: the latest by term, index and time (numbers, not text),
    /// of those with a metadata file.
    func testTheSnapshotCheckedIsTheOneCRaftLoads() {
        let names = ["snapshot-2-900-5", "snapshot-2-900-5.meta", "snapshot-2-1024-3", "snapshot-2-1024-3.meta",
                     "snapshot-3-10-1", "open-1", "0000000000000001-0000000000000900"]
        XCTAssertEqual(SnapshotFileCheck.loaded(among: names), "snapshot-2-1024-3", "a later term needs its metadata file")
        XCTAssertEqual(SnapshotFileCheck.loaded(among: names + ["snapshot-3-10-1.meta"]), "snapshot-3-10-1")
        XCTAssertEqual(SnapshotFileCheck.loaded(among: ["snapshot-2-1024-3.meta"]), nil, "no data file")
        XCTAssertEqual(SnapshotFileCheck.loaded(among: ["snapshot-1-5-9", "snapshot-1-5-9.meta", "snapshot-1-5-10", "snapshot-1-5-10.meta"]),
                       "snapshot-1-5-10")
    }
}
