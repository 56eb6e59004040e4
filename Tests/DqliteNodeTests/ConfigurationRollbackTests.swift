import XCTest
import CRaft
@testable import DqliteNode

/// canonical/raft#323 through the real C-Raft 0.15 in its fixture: a follower whose uncommitted
/// configuration entry is overwritten by a new leader must roll back to the committed configuration, whose
/// entry a snapshot has compacted away. C-Raft alone crashes there (`membershipRollback`: assertion
/// `entry != NULL`, and a NULL dereference where assertions are off).
///
///     all three: a snapshot at index 10 (term 1) holding configuration {1, 2, 3}, committed at index 1
///     S3: [11:3 command], term 3, cut off at first
///
/// S1 leads term 2 and adds server 4; S2 stores the change (index 11, term 2) but its acknowledgements are
/// lost, so it stays uncommitted. S1 dies; S3, whose entry 11 is of term 3, wins S2's vote and overwrites it.
final class ConfigurationRollbackTests: XCTestCase {
    func testAFollowerRollsBackAConfigurationWhoseCommittedEntryWasCompacted() throws {
        // Never closed, so never freed (see below).
        let f = try PlainRaftFixture()
        let fixture = f.fixture
        let change = UnsafeMutablePointer<raft_change>.allocate(capacity: 1)
        for i in 0..<3 {
            // Allocated with raft_malloc: the fixture's disk owns and frees it.
            let snapshot = raft_malloc(MemoryLayout<raft_snapshot>.size)!.assumingMemoryBound(to: raft_snapshot.self)
            snapshot.initialize(to: raft_snapshot())
            snapshot.pointee.index = 10
            snapshot.pointee.term = 1
            raft_configuration_init(&snapshot.pointee.configuration)
            for id in 1...3 { XCTAssertEqual(raft_configuration_add(&snapshot.pointee.configuration, raft_id(id), "\(id)", RAFT_VOTER), 0) }
            snapshot.pointee.configuration_index = 1
            let bufs = raft_malloc(MemoryLayout<raft_buffer>.size)!.assumingMemoryBound(to: raft_buffer.self)
            bufs.initialize(to: raft_buffer(base: raft_calloc(1, 8), len: 8))
            snapshot.pointee.bufs = bufs
            snapshot.pointee.n_bufs = 1
            raft_fixture_set_snapshot(fixture, UInt32(i), snapshot)
            raft_fixture_set_term(fixture, UInt32(i), i == 2 ? 3 : 1)
        }
        var command = raft_entry()
        command.term = 3
        command.type = UInt16(RAFT_COMMAND)
        command.buf = raft_buffer(base: raft_calloc(1, 8), len: 8)
        raft_fixture_add_entry(fixture, 2, &command)

        let rafts = f.rafts
        for r in rafts { RaftReceiveFilter.install(on: r.pointee.io) }
        // Not raft_fixture_close: the fixture's in-memory disk truncates as if every log started at index 1,
        // so after S2's truncation at 11 (its log starts after the snapshot at 10) its entries array holds
        // garbage that closing would free. The fixture is left allocated; the test process ends soon after.
        defer { for r in rafts { RaftReceiveFilter.uninstall(from: r.pointee.io) } }
        XCTAssertEqual(raft_fixture_start(fixture), 0)
        // The fixture's disk loses a loaded snapshot's configuration index (its snapshotCopy skips it);
        // libuv's backend reads it from the snapshot's metadata. Put it back as libuv would have.
        for r in rafts { r.pointee.configuration_index = 1 }
        for j: UInt32 in [0, 1] {
            raft_fixture_disconnect(fixture, j, 2)
            raft_fixture_disconnect(fixture, 2, j)
        }
        raft_fixture_set_randomized_election_timeout(fixture, 2, 100_000)
        XCTAssertTrue(raft_fixture_step_until_state_is(fixture, 0, Int32(RAFT_LEADER), 5_000), "S1 leads")
        raft_fixture_saturate(fixture, 1, 0)  // S2's answers to S1 are lost: nothing new commits
        change.initialize(to: raft_change())
        XCTAssertEqual(raft_add(rafts[0], change, 4, "4", { _, _ in }), 0)
        for _ in 0..<200 where rafts[1].pointee.configuration_uncommitted_index != 11 { raft_fixture_step_until_elapsed(fixture, 10) }
        XCTAssertEqual(rafts[1].pointee.configuration_uncommitted_index, 11, "S2 holds the change, uncommitted")
        XCTAssertEqual(rafts[1].pointee.configuration_index, 1)
        XCTAssertFalse(RaftReceiveFilter.holds(1, in: &rafts[1].pointee.log), "the committed configuration's entry is compacted")

        let before = RaftReceiveFilter.configurationRollbacks
        raft_fixture_kill(fixture, 0)
        raft_fixture_reconnect(fixture, 1, 2)
        raft_fixture_reconnect(fixture, 2, 1)
        // S2 gives up on S1 after its election timeout, then grants S3's next request (S3's log is newer).
        raft_fixture_set_randomized_election_timeout(fixture, 1, 1_000)
        raft_fixture_set_randomized_election_timeout(fixture, 2, 300)
        XCTAssertTrue(raft_fixture_step_until_state_is(fixture, 2, Int32(RAFT_LEADER), 10_000), "S3 leads")
        raft_fixture_step_until_elapsed(fixture, 1_000)
        XCTAssertEqual(RaftReceiveFilter.configurationRollbacks, before + 1)
        XCTAssertEqual(rafts[1].pointee.configuration_uncommitted_index, 0)
        XCTAssertEqual(rafts[1].pointee.configuration.n, 3, "S2 is back on {1, 2, 3}")
        XCTAssertEqual(RaftReceiveFilter.termOf(11, in: &rafts[1].pointee.log), 3, "and holds S3's entry 11")
        XCTAssertEqual(raft_state(rafts[1]), Int32(RAFT_FOLLOWER))
    }

    /// C-Raft 0.15 restores the newest configuration entry in the log as committed at start. When a new leader
    /// then overwrites that entry, it rolls nothing back: the follower keeps a membership that no longer
    /// exists (here a fourth server), and counts votes and commits by it.
    ///
    ///     all three: [1:1 configuration {1, 2, 3}]
    ///     S2: [2:2 configuration {1, 2, 3, 4 spare}]   S3: [2:3 command]   (terms 3)
    func testAConfigurationRestoredAtStartIsRolledBackWhenANewLeaderOverwritesIt() throws {
        let f = try PlainRaftFixture()
        try f.bootstrap()
        let fixture = f.fixture
        var configuration = raft_configuration()
        XCTAssertEqual(raft_fixture_configuration(fixture, 3, &configuration), 0)
        XCTAssertEqual(raft_configuration_add(&configuration, 4, "4", RAFT_SPARE), 0)
        var change = raft_entry()
        change.term = 2
        change.type = UInt16(RAFT_CHANGE)
        XCTAssertEqual(raft_configuration_encode(&configuration, &change.buf), 0)
        raft_configuration_close(&configuration)
        XCTAssertEqual(RaftReceiveFilter.decodeConfiguration(change.buf)?.map(\.id), [1, 2, 3, 4])
        raft_fixture_add_entry(fixture, 1, &change)
        var command = raft_entry()
        command.term = 3
        command.type = UInt16(RAFT_COMMAND)
        command.buf = raft_buffer(base: raft_calloc(1, 8), len: 8)
        raft_fixture_add_entry(fixture, 2, &command)
        for i in 0..<3 { raft_fixture_set_term(fixture, UInt32(i), 3) }

        let rafts = f.rafts
        for r in rafts { RaftReceiveFilter.install(on: r.pointee.io) }
        defer {
            for r in rafts { RaftReceiveFilter.uninstall(from: r.pointee.io) }
            f.close()
        }
        // S3's timer runs out first; S2's (whose log beats S1's) never does.
        raft_fixture_set_randomized_election_timeout(fixture, 1, 100_000)
        raft_fixture_set_randomized_election_timeout(fixture, 2, 200)
        XCTAssertEqual(raft_fixture_start(fixture), 0)
        XCTAssertEqual(rafts[1].pointee.configuration.n, 4, "S2 starts on the configuration of its newest entry")
        XCTAssertEqual(rafts[1].pointee.configuration_index, 2)
        XCTAssertEqual(rafts[1].pointee.configuration_uncommitted_index, 0, "taken as committed")
        let before = RaftReceiveFilter.configurationRollbacks
        XCTAssertTrue(raft_fixture_step_until_state_is(fixture, 2, Int32(RAFT_LEADER), 5_000), "S3 leads")
        raft_fixture_step_until_elapsed(fixture, 1_000)
        XCTAssertEqual(RaftReceiveFilter.termOf(2, in: &rafts[1].pointee.log), 3, "S2 holds S3's entry 2")
        XCTAssertEqual(RaftReceiveFilter.configurationRollbacks, before + 1)
        XCTAssertEqual(rafts[1].pointee.configuration.n, 3, "S2 is back on {1, 2, 3}")
        XCTAssertEqual(rafts[1].pointee.configuration_index, 1)
    }
}
