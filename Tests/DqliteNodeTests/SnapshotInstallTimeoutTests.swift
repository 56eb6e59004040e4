import XCTest
@testable import DqliteNode

final class SnapshotInstallTimeoutTests: XCTestCase {
    func testSmallSnapshotsGetTheBaseAndBigOnesMoreTime() {
        var t = SnapshotInstallTimeout(baseMs: 2000)
        XCTAssertEqual(t.milliseconds, 2000)
        XCTAssertFalse(t.note(snapshotBytes: 100_000), "a 100 kB snapshot changes nothing worth telling Raft")
        XCTAssertEqual(t.milliseconds, 2000 + UInt32(100_000 / SnapshotInstallTimeout.bytesPerMs))
        XCTAssertTrue(t.note(snapshotBytes: 800 << 20), "an 800 MiB snapshot needs far longer than 2 s")
        XCTAssertTrue((101_800...102_200).contains(t.milliseconds), "\(t.milliseconds)")
        XCTAssertTrue(t.note(snapshotBytes: 0), "and shrinks back")
        XCTAssertEqual(t.milliseconds, 2000)
    }

    func testTheTimeoutSaturatesInsteadOfOverflowing() {
        var t = SnapshotInstallTimeout(baseMs: UInt32.max - 10)
        _ = t.note(snapshotBytes: Int.max)
        XCTAssertEqual(t.milliseconds, UInt32.max)
    }
}
