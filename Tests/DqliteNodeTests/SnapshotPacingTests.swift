import XCTest
@testable import DqliteNode

final class SnapshotPacingTests: XCTestCase {
    func testRatioZeroTakesEverySnapshotAsDqliteDoes() {
        var p = SnapshotPacing(logRatio: 0)
        p.noteSnapshot(bytes: 100 << 20, installed: false)
        p.noteApplied(bytes: 1)
        XCTAssertTrue(p.shouldTakeSnapshot())
        XCTAssertTrue(p.shouldTakeSnapshot())
    }

    func testTheFirstSnapshotIsNeverDeferred() {
        var p = SnapshotPacing(logRatio: 2)
        XCTAssertTrue(p.shouldTakeSnapshot(), "no snapshot yet: nothing to compare the log with")
    }

    func testASnapshotWaitsForRatioTimesTheLastOnesSizeOfLog() {
        var p = SnapshotPacing(logRatio: 2)
        XCTAssertTrue(p.shouldTakeSnapshot())
        p.noteSnapshot(bytes: 10 << 20, installed: false)
        p.noteApplied(bytes: 19 << 20)
        XCTAssertFalse(p.shouldTakeSnapshot(), "19 MiB of log < 2 x 10 MiB")
        XCTAssertFalse(p.shouldTakeSnapshot(), "asking again changes nothing")
        p.noteApplied(bytes: 1 << 20)
        XCTAssertTrue(p.shouldTakeSnapshot(), "20 MiB of log")
        XCTAssertEqual(p.logBytes, 0, "the count starts again")
        p.noteApplied(bytes: 1 << 20)
        XCTAssertFalse(p.shouldTakeSnapshot())
    }

    func testTheLogNeverGrowsPastTheCap() {
        var p = SnapshotPacing(logRatio: 2, maxLogBytes: 64 << 20)
        p.noteSnapshot(bytes: 1 << 30, installed: false)
        p.noteApplied(bytes: 63 << 20)
        XCTAssertFalse(p.shouldTakeSnapshot())
        p.noteApplied(bytes: 1 << 20)
        XCTAssertTrue(p.shouldTakeSnapshot(), "64 MiB of log, whatever the database's size")
    }

    func testAnInstalledSnapshotStartsTheLogCountAgain() {
        var p = SnapshotPacing(logRatio: 1)
        p.noteApplied(bytes: 50)
        p.noteSnapshot(bytes: 100, installed: true)
        XCTAssertEqual(p.logBytes, 0)
        p.noteApplied(bytes: 99)
        XCTAssertFalse(p.shouldTakeSnapshot())
        p.noteApplied(bytes: 1)
        XCTAssertTrue(p.shouldTakeSnapshot())
    }

    /// Nodes wait for different amounts of log (their stagger), so they do not all snapshot at once.
    func testAStaggeredNodeWaitsForItsShareMore() {
        var plain = SnapshotPacing(logRatio: 2, maxLogBytes: 64 << 20)
        var staggered = SnapshotPacing(logRatio: 2, maxLogBytes: 64 << 20, stagger: 0.25)
        plain.noteSnapshot(bytes: 1 << 30, installed: false)
        staggered.noteSnapshot(bytes: 1 << 30, installed: false)
        plain.noteApplied(bytes: 64 << 20)
        staggered.noteApplied(bytes: 64 << 20)
        XCTAssertTrue(plain.shouldTakeSnapshot())
        XCTAssertFalse(staggered.shouldTakeSnapshot(), "64 MiB of log < 1.25 x 64 MiB")
        staggered.noteApplied(bytes: 16 << 20)
        XCTAssertTrue(staggered.shouldTakeSnapshot(), "80 MiB of log")
    }

    /// Once the cluster is idle, the leader's CHECKPOINT entry has each node take the snapshot it deferred
    /// when C-Raft next asks; a write in between cancels that.
    func testARequestedSnapshotIsTakenUnlessWritesResume() {
        var p = SnapshotPacing(logRatio: 2, maxLogBytes: 64 << 20, idle: .seconds(2))
        let start = ContinuousClock.now
        XCTAssertFalse(p.isIdle(at: start), "nothing applied yet")
        p.noteSnapshot(bytes: 10 << 20, installed: false)
        p.noteApplied(bytes: 1 << 20, at: start)
        XCTAssertFalse(p.shouldTakeSnapshot())
        XCTAssertTrue(p.deferring)
        XCTAssertFalse(p.isIdle(at: start + .milliseconds(1999)))
        XCTAssertTrue(p.isIdle(at: start + .seconds(2)))
        p.requestSnapshot()
        XCTAssertTrue(p.shouldTakeSnapshot(), "requested: the deferred snapshot is taken")
        XCTAssertFalse(p.deferring)
        p.noteApplied(bytes: 1 << 20, at: start + .seconds(3))
        p.requestSnapshot()
        p.noteApplied(bytes: 1 << 20, at: start + .seconds(3))
        XCTAssertFalse(p.shouldTakeSnapshot(), "writes resumed after the request: deferred again")
        var never = SnapshotPacing(logRatio: 2, maxLogBytes: 64 << 20)
        never.noteApplied(bytes: 1, at: start)
        XCTAssertFalse(never.isIdle(at: start + .seconds(3600)), "an idle time of zero turns it off")
    }
}
