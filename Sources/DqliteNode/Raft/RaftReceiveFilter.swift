import CRaft
import Synchronization

/// Sits between C-Raft's I/O backend and Raft's receive function (`raft_io.start`'s recv), for two
/// safety fixes that C-Raft 0.15 has no hook for.
///
/// **Commits of earlier terms.** Stops C-Raft 0.15 from committing entries of earlier terms by counting replicas (Raft's figure 8;
/// fixed upstream in 0.17.1, canonical/raft#336). Its leader commits `last_stored` as soon as a majority's
/// `match_index` reaches it (`replicationQuorum`), whatever that entry's term. A new leader whose log ends
/// in an uncommitted entry of an earlier term therefore commits and applies it once it has copied it to a
/// majority, and a later leader that never had it (elected by voters whose last term is lower than its own)
/// overwrites it: an applied, read entry is gone.
///
/// While the leader's newest stored entry is of an earlier term, a successful AppendEntries result reports
/// no more than the leader's commit index. Why that is enough, from 0.15's source: a leader's commit index
/// moves only in `replicationQuorum(r, r->last_stored)` (besides a single voter's election), and only when a
/// majority of voters have `match_index >= last_stored`; the leader's own match starts at `last_stored` and
/// every follower's at 0 in each term, and a follower's moves only through these results. So while
/// `last_stored` is of an earlier term no follower's match exceeds the commit index, nothing new commits,
/// and followers (which apply up to the leader's commit index) apply nothing new either. Once the leader
/// has stored an entry of its own term at `last_stored`, results pass unchanged and the count is Raft's own
/// rule: that entry, and with it every earlier one, is on a majority. `onOldTail` asks for that entry (the
/// node appends a barrier); the first acknowledgements after it is stored come with the next heartbeat.
///
/// **Rolling back a configuration whose predecessor was compacted** (canonical/raft#323, #250). A follower
/// whose uncommitted configuration entry is overwritten by a new leader rolls back to the last committed
/// configuration by reading that entry from its log (`membershipRollback`), and C-Raft 0.15 asserts that
/// the entry is there; after a snapshot has compacted it away (configurations change rarely, so it usually
/// is) the node crashes, and again at every restart. The filter keeps a copy of each committed
/// configuration (and of the one in the snapshot loaded at start) and, when an AppendEntries is about to
/// truncate the uncommitted one while the committed entry is gone from the log, does the rollback first, as
/// C-Raft would have: the committed configuration back in place, nothing uncommitted.
///
/// **Votes of a node catching up.** A node that lost Raft data (`DamagedRaftData`) holds its vote: it drops
/// RequestVote (and pre-vote) and TimeoutNow messages and keeps its election timer from firing, so it
/// neither elects a leader that lacks entries it had acknowledged nor stands itself. It is caught up once
/// it has applied up to the commit index of the leader's latest AppendEntries and that entry is of the
/// leader's term: with the guard above, such a leader had committed every entry committed before its term,
/// and the index covers those committed in its term so far, the lost ones among them.
enum RaftReceiveFilter {
    typealias RecvFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UnsafeMutablePointer<raft_message>?) -> Void
    private typealias StartFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UInt32, raft_io_tick_cb?, raft_io_recv_cb?) -> Int32
    /// Called on the loop thread after Raft handled a message: when a leader has no entry of its own term in
    /// its log yet (`onOldTail`, with the commit guard), and once when a node holding its vote has caught up (`onCaughtUp`).
    typealias RaftFn = @convention(c) (UnsafeMutablePointer<raft>?) -> Void

    /// Per io (by address), as bit patterns: the backend's start, Raft's recv, the callbacks and switches.
    /// Backends differ (libuv, C-Raft's test fixture), so nothing here is shared between ios.
    private struct Wrapped: Sendable {
        var start: UInt
        var recv = UInt(0)
        var guardCommits: Bool
        var onOldTail: UInt
        var holdVotes: Bool
        var onCaughtUp: UInt
        /// The commit index of the latest AppendEntries while holding votes.
        var leaderCommit: raft_index = 0
        /// The backend's load, and the last committed configuration seen, with its index.
        var load = UInt(0)
        var committed: [Member] = []
        var committedIndex: raft_index = 0
    }
    struct Member: Sendable, Equatable {
        var id: raft_id
        var address: String
        var role: Int32
    }
    private typealias LoadFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UnsafeMutablePointer<raft_term>?, UnsafeMutablePointer<raft_id>?,
                                               UnsafeMutablePointer<UnsafeMutablePointer<raft_snapshot>?>?, UnsafeMutablePointer<raft_index>?,
                                               UnsafeMutablePointer<UnsafeMutablePointer<raft_entry>?>?, UnsafeMutablePointer<Int>?) -> Int32
    private static let rollbacks = Atomic<Int>(0)
    /// Configuration rollbacks done here because C-Raft's entry was compacted away.
    static var configurationRollbacks: Int { rollbacks.load(ordering: .relaxed) }
    private static let wrapped = Mutex<[UInt: Wrapped]>([:])
    /// Results held back and vote requests dropped, for tests and logs.
    private static let heldBack = Atomic<Int>(0)
    private static let votesHeld = Atomic<Int>(0)
    static var resultsHeldBack: Int { heldBack.load(ordering: .relaxed) }
    static var voteRequestsDropped: Int { votesHeld.load(ordering: .relaxed) }

    /// Wraps `io` before `raft_start` (which calls io->start with Raft's recv).
    static func install(on io: UnsafeMutablePointer<raft_io>, guardCommits: Bool = true, onOldTail: RaftFn? = nil,
                        holdVotes: Bool = false, onCaughtUp: RaftFn? = nil) {
        let key = UInt(bitPattern: io)
        wrapped.withLock {
            // Installed again: the settings change; the backend's functions stay the ones kept the first time.
            let earlier = $0[key]
            var w = Wrapped(start: earlier?.start ?? unsafeBitCast(io.pointee.start, to: UInt.self), guardCommits: guardCommits,
                            onOldTail: unsafeBitCast(onOldTail, to: UInt.self), holdVotes: holdVotes,
                            onCaughtUp: unsafeBitCast(onCaughtUp, to: UInt.self))
            w.load = earlier?.load ?? unsafeBitCast(io.pointee.load, to: UInt.self)
            $0[key] = w
        }
        // The snapshot loaded at start holds the committed configuration when its entry is compacted.
        io.pointee.load = { io, term, vote, snapshot, start, entries, n in
            let key = UInt(bitPattern: io)
            let load = RaftReceiveFilter.wrapped.withLock { $0[key]?.load ?? 0 }
            let rc = unsafeBitCast(load, to: LoadFn.self)(io, term, vote, snapshot, start, entries, n)
            if rc == 0, let s = snapshot?.pointee {
                let members = RaftReceiveFilter.members(of: s.pointee.configuration)
                RaftReceiveFilter.wrapped.withLock {
                    $0[key]?.committed = members
                    $0[key]?.committedIndex = s.pointee.configuration_index
                }
            }
            return rc
        }
        io.pointee.start = { io, msecs, tick, recv in
            let key = UInt(bitPattern: io)
            let start = RaftReceiveFilter.wrapped.withLock { w -> UInt in
                w[key]?.recv = unsafeBitCast(recv, to: UInt.self)
                return w[key]?.start ?? 0
            }
            let rc = unsafeBitCast(start, to: StartFn.self)(io, msecs, tick, { io, message in
                RaftReceiveFilter.received(io, message)
            })
            return rc
        }
    }

    /// Forgets `io` (after raft_close: its memory may be reused).
    static func uninstall(from io: UnsafeMutablePointer<raft_io>) {
        _ = wrapped.withLock { $0.removeValue(forKey: UInt(bitPattern: io)) }
    }

    /// Whether `r`'s node still holds its vote (after raft_start: keeps its election timer from firing).
    static func holdingVotes(_ r: UnsafeMutablePointer<raft>) -> Bool {
        guard let io = r.pointee.io, let w = wrapped.withLock({ $0[UInt(bitPattern: io)] }) else { return false }
        if w.holdVotes { postponeElection(r) }
        return w.holdVotes
    }

    private static func received(_ io: UnsafeMutablePointer<raft_io>?, _ message: UnsafeMutablePointer<raft_message>?) {
        guard let io, var w = wrapped.withLock({ $0[UInt(bitPattern: io)] }) else { return }
        let recv = unsafeBitCast(w.recv, to: RecvFn.self)
        guard let message, let data = io.pointee.data else { return recv(io, message) }
        let r = data.assumingMemoryBound(to: raft.self)
        let type = Int32(message.pointee.type)
        if w.holdVotes {
            if type == RAFT_IO_REQUEST_VOTE || type == RAFT_IO_TIMEOUT_NOW {
                votesHeld.add(1, ordering: .relaxed)
                return
            }
            if type == RAFT_IO_APPEND_ENTRIES {
                w.leaderCommit = message.pointee.append_entries.leader_commit
                let commit = w.leaderCommit
                wrapped.withLock { $0[UInt(bitPattern: io)]?.leaderCommit = commit }
            }
        }
        if w.guardCommits, type == RAFT_IO_APPEND_ENTRIES_RESULT, r.pointee.state == UInt16(RAFT_LEADER),
           message.pointee.append_entries_result.rejected == 0,
           message.pointee.append_entries_result.last_log_index > r.pointee.commit_index,
           termOf(r.pointee.last_stored, in: &r.pointee.log) < r.pointee.current_term {
            message.pointee.append_entries_result.last_log_index = r.pointee.commit_index
            heldBack.add(1, ordering: .relaxed)
        }
        if type == RAFT_IO_APPEND_ENTRIES { rollBackIfCompacted(r, message.pointee.append_entries, w) }
        recv(io, message)
        noteCommittedConfiguration(r, io: io, w)
        // Asked on any result, not only a held one: a leader whose log is all committed still appends its
        // barrier, which is what lets a node holding its vote see a commit of the current term.
        if w.guardCommits, type == RAFT_IO_APPEND_ENTRIES_RESULT, r.pointee.state == UInt16(RAFT_LEADER), w.onOldTail != 0,
           termOf(raft_last_index(r), in: &r.pointee.log) < r.pointee.current_term {
            unsafeBitCast(w.onOldTail, to: RaftFn.self)(r)
        }
        if w.holdVotes {
            if caughtUp(r, leaderCommit: w.leaderCommit) {
                wrapped.withLock { $0[UInt(bitPattern: io)]?.holdVotes = false }
                if w.onCaughtUp != 0 { unsafeBitCast(w.onCaughtUp, to: RaftFn.self)(r) }
            } else {
                postponeElection(r)
            }
        }
    }

    private static func members(of c: raft_configuration) -> [Member] {
        (0..<Int(c.n)).map { i in Member(id: c.servers[i].id, address: String(cString: c.servers[i].address), role: c.servers[i].role) }
    }

    /// Keeps a copy of the configuration whenever none is uncommitted.
    private static func noteCommittedConfiguration(_ r: UnsafeMutablePointer<raft>, io: UnsafeMutablePointer<raft_io>, _ w: Wrapped) {
        let index = r.pointee.configuration_index
        guard r.pointee.configuration_uncommitted_index == 0, index != 0, index != w.committedIndex else { return }
        let members = members(of: r.pointee.configuration)
        wrapped.withLock {
            $0[UInt(bitPattern: io)]?.committed = members
            $0[UInt(bitPattern: io)]?.committedIndex = index
        }
    }

    /// What `membershipRollback` does, done here where C-Raft 0.15 gets it wrong, before `append` truncates
    /// the log at a conflicting entry (`deleteConflictingEntries`):
    /// - an uncommitted configuration is overwritten and the committed one's entry was compacted (C-Raft
    ///   reads a NULL entry): the committed copy goes back in place;
    /// - the configuration C-Raft restored at start is overwritten (0.15 takes the newest configuration entry
    ///   in the log as committed, so it rolls nothing back and keeps a membership that no longer exists):
    ///   the newest configuration before the conflict (a log entry, or the loaded snapshot's) goes in.
    private static func rollBackIfCompacted(_ r: UnsafeMutablePointer<raft>, _ append: raft_append_entries, _ w: Wrapped) {
        guard r.pointee.state == UInt16(RAFT_FOLLOWER), let entries = append.entries else { return }
        var conflict: raft_index?
        for j in 0..<Int(append.n_entries) {
            let index = append.prev_log_index + 1 + raft_index(j)
            let local = termOf(index, in: &r.pointee.log)
            if local > 0 && local != entries[j].term { conflict = index; break }
        }
        guard let conflict, conflict > r.pointee.commit_index else { return }
        let uncommitted = r.pointee.configuration_uncommitted_index
        if uncommitted > 0 {
            guard conflict <= uncommitted, !holds(r.pointee.configuration_index, in: &r.pointee.log),
                  w.committedIndex == r.pointee.configuration_index, !w.committed.isEmpty else { return }
            install(w.committed, index: r.pointee.configuration_index, on: r)
        } else if r.pointee.configuration_index >= conflict {
            if let (members, index) = newestConfiguration(before: conflict, in: &r.pointee.log) {
                install(members, index: index, on: r)
            } else if w.committedIndex < conflict, !w.committed.isEmpty {
                install(w.committed, index: w.committedIndex, on: r)
            }
        }
    }

    private static func install(_ members: [Member], index: raft_index, on r: UnsafeMutablePointer<raft>) {
        raft_configuration_close(&r.pointee.configuration)
        raft_configuration_init(&r.pointee.configuration)
        for m in members { _ = raft_configuration_add(&r.pointee.configuration, m.id, m.address, m.role) }
        r.pointee.configuration_index = index
        r.pointee.configuration_uncommitted_index = 0
        rollbacks.add(1, ordering: .relaxed)
    }

    /// The newest configuration entry of the log below `index`, decoded.
    private static func newestConfiguration(before index: raft_index, in log: UnsafeMutablePointer<raft_log>) -> ([Member], raft_index)? {
        var i = index - 1
        while let entry = entry(at: i, in: log) {
            if entry.type == UInt16(RAFT_CHANGE), let members = decodeConfiguration(entry.buf) { return (members, i) }
            i -= 1
        }
        return nil
    }

    /// C-Raft's configuration encoding: format 1, a 64-bit count, then per server a 64-bit id, the address
    /// NUL-terminated and a role byte (little-endian, unaligned).
    static func decodeConfiguration(_ buf: raft_buffer) -> [Member]? {
        guard let base = buf.base, buf.len >= 9 else { return nil }
        let b = UnsafeRawBufferPointer(start: base, count: buf.len)
        guard b[0] == 1 else { return nil }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        let n = u64(1)
        var at = 9, members: [Member] = []
        for _ in 0..<n {
            guard at + 8 < b.count else { return nil }
            let id = u64(at)
            at += 8
            guard let end = b[at...].firstIndex(of: 0), end + 1 < b.count else { return nil }
            let address = String(decoding: b[at..<end], as: UTF8.self)
            members.append(Member(id: id, address: address, role: Int32(b[end + 1])))
            at = end + 2
        }
        return members
    }

    /// The log's entry at `index` (not its snapshot), or nil: C-Raft's logGet over its circular buffer.
    private static func entry(at index: raft_index, in log: UnsafeMutablePointer<raft_log>) -> raft_entry? {
        let l = log.pointee
        let count = l.back >= l.front ? l.back - l.front : l.size - l.front + l.back
        guard index > l.offset, index - l.offset <= UInt64(count) else { return nil }
        return l.entries[(l.front + Int(index - l.offset - 1)) % l.size]
    }

    /// Whether the log's entries (not only its snapshot) hold `index`.
    static func holds(_ index: raft_index, in log: UnsafeMutablePointer<raft_log>) -> Bool { entry(at: index, in: log) != nil }

    /// Applied up to the commit index of the leader's latest AppendEntries, and that index holds an entry of
    /// the leader's term: the leader had committed every entry of earlier terms (its own term's entry comes
    /// after them), and this node holds every entry committed in this term up to that message.
    private static func caughtUp(_ r: UnsafeMutablePointer<raft>, leaderCommit: raft_index) -> Bool {
        r.pointee.state == UInt16(RAFT_FOLLOWER) && leaderCommit > 0 && r.pointee.last_applied >= leaderCommit
            && termOf(leaderCommit, in: &r.pointee.log) == r.pointee.current_term
    }

    /// A follower's election timer fires once `randomized_election_timeout` ms have passed since it was last
    /// reset (every message from a leader resets both): a day keeps a node holding its vote from standing.
    private static func postponeElection(_ r: UnsafeMutablePointer<raft>) {
        guard r.pointee.state == UInt16(RAFT_FOLLOWER) else { return }
        r.pointee.follower_state.randomized_election_timeout = 86_400_000
    }

    /// The term of the entry at `index` (0 when the log does not hold it), as C-Raft's logTermOf.
    static func termOf(_ index: raft_index, in log: UnsafeMutablePointer<raft_log>) -> raft_term {
        guard index > 0 else { return 0 }
        if index == log.pointee.snapshot.last_index { return log.pointee.snapshot.last_term }
        return entry(at: index, in: log)?.term ?? 0
    }
}
