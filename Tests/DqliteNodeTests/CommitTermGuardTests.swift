import XCTest
import CRaft
@testable import DqliteNode

/// Raft's figure 8 driven through the real C-Raft 0.15 (Debian's libraft, its own deterministic test fixture:
/// in-memory disks and network, simulated time). Three servers start from logs built as in the figure:
///
///     S1: [1:1 config] [2:2 X]      term 3   (X written by S1 as leader of term 2, copied nowhere)
///     S2: [1:1 config] [2:3 Y]      term 3   (Y written by S2 as leader of term 3, copied nowhere)
///     S3: [1:1 config]              term 3
///
/// S2 is cut off and S1 wins term 4 with S3's vote. Unguarded, S1 copies X to S3 and commits it by counting
/// (two of three), applies it and tells S3 to apply it; then S1 dies and S2, whose last term (3) beats
/// S3's (2), wins term 5 with S3's vote and overwrites X with Y: an applied entry is gone. With
/// `CommitTermGuard`, X is applied only once S1's own entry of term 4 is committed after it, and S2 can
/// never win S3's vote again.
final class CommitTermGuardTests: XCTestCase {
    func testUnguardedCRaftAppliesAnEntryOfAnEarlierTermThatALaterLeaderOverwrites() throws {
        let run = try Figure8Run(guarded: false)
        defer { run.close() }
        let x = try XCTUnwrap(run.applied.first { $0.server == 0 && $0.index == 2 }, "S1 applied X")
        XCTAssertEqual(x.entryTerm, 2)
        XCTAssertEqual(x.committedTerm, 2, "X was applied with only an entry of term 2 counted as committed")
        XCTAssertEqual(x.currentTerm, 4)
        XCTAssertTrue(run.applied.contains { $0.data == "X" })

        run.killS1AndLetS2Campaign()
        // S1 died before its next message told S3 that X was committed (had S3 known, it would have shut
        // down at S2's conflicting entry instead: no loss, but no service either).
        XCTAssertEqual(run.leaders, [1], "S2 won a later term with S3's vote although X was applied")
        XCTAssertEqual(raft_state(run.raft(1)), Int32(RAFT_LEADER))
        XCTAssertEqual(run.entryTerm(at: 2, on: 2), 3, "S3's index 2 is now Y: the applied X is gone from the cluster")
        XCTAssertGreaterThanOrEqual(run.raft(2).pointee.commit_index, 2, "and Y is committed in its place")
    }

    func testGuardedNodeAppliesNoEntryOfAnEarlierTermBeforeOneOfItsOwnCommits() throws {
        let run = try Figure8Run(guarded: true)
        defer { run.close() }
        XCTAssertGreaterThan(RaftReceiveFilter.resultsHeldBack, 0, "S3's acknowledgement of X was held back")
        XCTAssertFalse(run.applied.isEmpty)
        for a in run.applied {
            XCTAssertEqual(a.committedTerm, a.currentTerm, "server \(a.server + 1) applied index \(a.index) (term \(a.entryTerm)) with only an entry of term \(a.committedTerm) committed in term \(a.currentTerm)")
        }
        let x = try XCTUnwrap(run.applied.first { $0.server == 0 && $0.index == 2 })
        XCTAssertEqual(x.data, "X")
        XCTAssertGreaterThanOrEqual(x.commitIndex, 3, "X committed together with S1's barrier of term 4")

        run.killS1AndLetS2Campaign()
        XCTAssertFalse(run.leaders.contains(1), "S3 holds an entry of term 4: it never votes for S2")
        XCTAssertEqual(run.leaders, [2], "S3 leads with S2's vote")
        XCTAssertEqual(run.entryTerm(at: 2, on: 2), 2, "S3 still holds X")
        XCTAssertEqual(run.entryTerm(at: 2, on: 1), 2, "and S2's unapplied Y was replaced by X")
    }
}

/// One entry applied by one server, and what that server knew then.
private struct Applied {
    var server: Int
    var index: UInt64
    var data: String
    var entryTerm: UInt64
    var commitIndex: UInt64
    /// The term of the entry at the commit index when this entry was applied.
    var committedTerm: UInt64
    var currentTerm: UInt64
}

/// Collects what the servers' FSMs apply. The fixture is single-threaded: everything runs in `step`.
private final class Recorder {
    var applied: [Applied] = []
    var rafts: [UnsafeMutablePointer<raft>] = []
}

/// Per-FSM context: its recorder and server index.
private final class FSMContext {
    let recorder: Recorder
    let server: Int
    init(_ recorder: Recorder, _ server: Int) {
        self.recorder = recorder
        self.server = server
    }
}

private final class Figure8Run {
    let fixture = UnsafeMutablePointer<raft_fixture>.allocate(capacity: 1)
    let fsms = UnsafeMutablePointer<raft_fsm>.allocate(capacity: 3)
    let recorder = Recorder()
    private var contexts: [FSMContext] = []
    private let guarded: Bool

    var applied: [Applied] { recorder.applied }

    init(guarded: Bool) throws {
        self.guarded = guarded
        memset(fixture, 0, MemoryLayout<raft_fixture>.size)
        guard raft_fixture_initialize(fixture) == 0 else { throw FixtureFailure("raft_fixture_initialize") }
        for i in 0..<3 {
            let context = FSMContext(recorder, i)
            contexts.append(context)
            fsms[i] = raft_fsm()
            fsms[i].version = 1
            fsms[i].data = Unmanaged.passUnretained(context).toOpaque()
            fsms[i].apply = { fsm, buffer, result in
                let c = Unmanaged<FSMContext>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
                let r = c.recorder.rafts[c.server]
                let index = r.pointee.last_applied + 1
                let bytes = UnsafeRawBufferPointer(start: buffer!.pointee.base, count: Int(buffer!.pointee.len))
                c.recorder.applied.append(Applied(
                    server: c.server, index: index, data: String(decoding: bytes, as: UTF8.self),
                    entryTerm: RaftReceiveFilter.termOf(index, in: &r.pointee.log), commitIndex: r.pointee.commit_index,
                    committedTerm: RaftReceiveFilter.termOf(r.pointee.commit_index, in: &r.pointee.log),
                    currentTerm: r.pointee.current_term))
                result?.pointee = nil
                return 0
            }
            guard raft_fixture_grow(fixture, &fsms[i]) == 0 else { throw FixtureFailure("raft_fixture_grow") }
            recorder.rafts.append(raft_fixture_get(fixture, UInt32(i)))
        }
        var configuration = raft_configuration()
        guard raft_fixture_configuration(fixture, 3, &configuration) == 0,
              raft_fixture_bootstrap(fixture, &configuration) == 0 else { throw FixtureFailure("bootstrap") }
        raft_configuration_close(&configuration)
        // Figure 8's logs, as persisted state before the servers start.
        addEntry(server: 0, term: 2, "X")
        addEntry(server: 1, term: 3, "Y")
        for i in 0..<3 { raft_fixture_set_term(fixture, UInt32(i), 3) }
        if guarded {
            for i in 0..<3 {
                RaftReceiveFilter.install(on: raft(i).pointee.io, onOldTail: { r in appendBarrier(r!) })
            }
        }
        guard raft_fixture_start(fixture) == 0 else { throw FixtureFailure("raft_fixture_start") }
        // S1's disk is slow: S3's acknowledgement of X arrives while S1's own barrier is still being written,
        // the moment at which C-Raft counts X alone.
        raft_fixture_set_disk_latency(fixture, 0, 300)
        // S2 is cut off; S1's election timer runs out first (the fixture's default), and S3 votes for it.
        for j in [0, 2] {
            raft_fixture_disconnect(fixture, 1, UInt32(j))
            raft_fixture_disconnect(fixture, UInt32(j), 1)
        }
        guard raft_fixture_step_until_state_is(fixture, 0, Int32(RAFT_LEADER), 10_000) else { throw FixtureFailure("S1 never led") }
        XCTAssertEqual(raft(0).pointee.current_term, 4)
        // Until S1 has applied X (guarded: after its barrier commits) and told S3 the commit index.
        guard raft_fixture_step_until_applied(fixture, 0, 2, 5_000) else { throw FixtureFailure("S1 never applied X") }
    }

    func raft(_ i: Int) -> UnsafeMutablePointer<raft> { recorder.rafts[i] }

    func entryTerm(at index: UInt64, on server: Int) -> UInt64 { RaftReceiveFilter.termOf(index, in: &raft(server).pointee.log) }

    /// S1 dies at once; S2 is connected to S3 again and campaigns (the fixture times its election first).
    func killS1AndLetS2Campaign() {
        raft_fixture_kill(fixture, 0)
        raft_fixture_reconnect(fixture, 1, 2)
        raft_fixture_reconnect(fixture, 2, 1)
        raft_fixture_set_randomized_election_timeout(fixture, 1, 500)
        raft_fixture_set_randomized_election_timeout(fixture, 2, 5_000)
        for _ in 0..<3000 {
            raft_fixture_step_until_elapsed(fixture, 1)
            for i in 1...2 where raft_state(raft(i)) == Int32(RAFT_LEADER) && !leaders.contains(i) { leaders.append(i) }
        }
    }
    var leaders: [Int] = []

    private func addEntry(server: Int, term: UInt64, _ text: String) {
        var entry = raft_entry()
        entry.term = term
        entry.type = UInt16(RAFT_COMMAND)
        let bytes = Array(text.utf8)
        entry.buf.len = bytes.count
        entry.buf.base = raft_malloc(bytes.count)
        bytes.withUnsafeBytes { entry.buf.base!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        raft_fixture_add_entry(fixture, UInt32(server), &entry)
    }

    func close() {
        if guarded { for i in 0..<3 { RaftReceiveFilter.uninstall(from: raft(i).pointee.io) } }
        raft_fixture_close(fixture)
        fixture.deallocate()
        fsms.deallocate()
    }
}

/// What the node does on an old tail (`RaftEngine.appendEntryOfOwnTerm`): a barrier of the new term.
private func appendBarrier(_ r: UnsafeMutablePointer<raft>) {
    let req = UnsafeMutablePointer<raft_barrier>.allocate(capacity: 1)
    req.initialize(to: raft_barrier())
    if raft_barrier(r, req, { req, _ in req?.deallocate() }) != 0 { req.deallocate() }
}


/// A node that lost Raft data holds its vote (`RaftReceiveFilter` with holdVotes) until a leader has caught
/// it up, through the real C-Raft 0.15 in its fixture.
final class VoteHoldTests: XCTestCase {
    nonisolated(unsafe) static var caughtUpCalls = 0  // written by a C callback on the test's thread only

    func testANodeHoldingItsVoteElectsNoOneUntilCaughtUpThenVotesAgain() throws {
        let f = try PlainRaftFixture()
        try f.bootstrap()
        let (fixture, rafts) = (f.fixture, f.rafts)
        for r in rafts { RaftReceiveFilter.install(on: r.pointee.io, onOldTail: { r in appendBarrier(r!) }) }
        // S3 lost its data: it holds its vote.
        RaftReceiveFilter.install(on: rafts[2].pointee.io, onOldTail: { r in appendBarrier(r!) }, holdVotes: true,
                                  onCaughtUp: { _ in VoteHoldTests.caughtUpCalls += 1 })
        defer {
            for r in rafts { RaftReceiveFilter.uninstall(from: r.pointee.io) }
            f.close()
        }
        XCTAssertEqual(raft_fixture_start(fixture), 0)
        XCTAssertTrue(RaftReceiveFilter.holdingVotes(rafts[2]))
        let dropped = RaftReceiveFilter.voteRequestsDropped
        // S1 cannot reach S2: only S3's vote could elect it, and S3 holds it.
        raft_fixture_disconnect(fixture, 0, 1)
        raft_fixture_disconnect(fixture, 1, 0)
        raft_fixture_set_randomized_election_timeout(fixture, 1, 10_000)
        raft_fixture_step_until_elapsed(fixture, 5_000)
        XCTAssertNotEqual(raft_state(rafts[0]), Int32(RAFT_LEADER), "S3 held its vote")
        XCTAssertNotEqual(raft_state(rafts[2]), Int32(RAFT_LEADER), "and did not stand itself")
        XCTAssertEqual(raft_state(rafts[2]), Int32(RAFT_FOLLOWER))
        XCTAssertGreaterThan(RaftReceiveFilter.voteRequestsDropped, dropped)
        XCTAssertEqual(Self.caughtUpCalls, 0)
        // S1 and S2 together elect a leader, whose barrier of its term reaches S3: S3 is caught up.
        raft_fixture_reconnect(fixture, 0, 1)
        raft_fixture_reconnect(fixture, 1, 0)
        XCTAssertTrue(raft_fixture_step_until_has_leader(fixture, 10_000))
        raft_fixture_step_until_elapsed(fixture, 2_000)
        XCTAssertEqual(Self.caughtUpCalls, 1)
        XCTAssertFalse(RaftReceiveFilter.holdingVotes(rafts[2]))
    }
}
