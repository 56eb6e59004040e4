import XCTest
import CRaft
@testable import DqliteNode

/// The arithmetic of read leases: what a majority's promises are worth, when a lease covers a read, and what
/// a follower promises.
final class ReadLeaseTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    func testAMajorityIsKeptFromVotingAsLongAsItsShortestPromise() {
        XCTAssertEqual(ReadLease.duration(promises: [700], needed: 1), 700)
        XCTAssertEqual(ReadLease.duration(promises: [300, 900, 600], needed: 2), 600, "the best two: 900 and 600")
        XCTAssertEqual(ReadLease.duration(promises: [0, 900], needed: 2), 0, "one voter promised nothing")
        XCTAssertEqual(ReadLease.duration(promises: [], needed: 1), 0)
        XCTAssertEqual(ReadLease.duration(promises: [], needed: 0), UInt64.max, "a single voter needs no one")
    }

    func testOnlyPartOfAPromiseIsRelied() {
        XCTAssertEqual(ReadLease.usable(1000), 895)
        XCTAssertEqual(ReadLease.usable(20), 0, "too short to be worth it")
        XCTAssertEqual(ReadLease.usable(0), 0)
    }

    func testALeaseCoversReadsOfItsTermAndConfigurationUntilItEnds() {
        var lease = ReadLease()
        XCTAssertFalse(lease.covers(now: 1, term: 0, configurationIndex: 0, changing: false, transferring: false), "no lease yet")
        lease.grant(term: 3, sent: 1000 * ms, stickyMs: 600, configurationIndex: 7)
        let end = 1000 * ms + ReadLease.usable(600) * ms
        XCTAssertTrue(lease.covers(now: 1001 * ms, term: 3, configurationIndex: 7, changing: false, transferring: false))
        XCTAssertFalse(lease.covers(now: end, term: 3, configurationIndex: 7, changing: false, transferring: false), "expired")
        XCTAssertFalse(lease.covers(now: 1001 * ms, term: 4, configurationIndex: 7, changing: false, transferring: false), "another term")
        XCTAssertFalse(lease.covers(now: 1001 * ms, term: 3, configurationIndex: 8, changing: false, transferring: false), "a new configuration")
        XCTAssertFalse(lease.covers(now: 1001 * ms, term: 3, configurationIndex: 7, changing: true, transferring: false), "a change under way")
        XCTAssertFalse(lease.covers(now: 1001 * ms, term: 3, configurationIndex: 7, changing: false, transferring: true), "a transfer")

        XCTAssertFalse(lease.dueForRenewal(now: 1100 * ms))
        XCTAssertTrue(lease.dueForRenewal(now: end - 100 * ms), "less than half left")
        // A round sent earlier that promised less does not shorten the lease.
        lease.grant(term: 3, sent: 1000 * ms, stickyMs: 100, configurationIndex: 7)
        XCTAssertTrue(lease.covers(now: end - 1, term: 3, configurationIndex: 7, changing: false, transferring: false))
        lease.revoke()
        XCTAssertFalse(lease.covers(now: 1001 * ms, term: 3, configurationIndex: 7, changing: false, transferring: false), "revoked")
    }

    func testAFollowerPromisesTheRestOfItsElectionTimeoutOnlyWhileItFollowsALeader() {
        var r = raft()
        r.state = UInt16(RAFT_FOLLOWER)
        r.election_timer_start = 10_000
        r.follower_state.randomized_election_timeout = 800
        XCTAssertEqual(ReadLease.followerStickiness(&r, nowMs: 10_300), 0, "no leader known: it may vote")
        r.follower_state.current_leader.id = 1
        XCTAssertEqual(ReadLease.followerStickiness(&r, nowMs: 10_300), 500)
        XCTAssertEqual(ReadLease.followerStickiness(&r, nowMs: 10_800), 0, "its timer has fired")
        r.state = UInt16(RAFT_CANDIDATE)
        XCTAssertEqual(ReadLease.followerStickiness(&r, nowMs: 10_300), 0)
    }

    func testAVoterPromisesAtMostHalfAnElectionTimeout() {
        XCTAssertEqual(ReadLease.promiseMs(stickinessMs: 1700, electionTimeoutMs: 1000), 500)
        XCTAssertEqual(ReadLease.promiseMs(stickinessMs: 300, electionTimeoutMs: 1000), 300)
        XCTAssertEqual(ReadLease.promiseMs(stickinessMs: 0, electionTimeoutMs: 1000), 0)
    }
}
