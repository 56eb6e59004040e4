import CRaft
import Synchronization

/// Stops C-Raft 0.15 from committing entries of earlier terms by counting replicas (Raft's figure 8;
/// fixed upstream in 0.17.1, canonical/raft#336). Its leader commits `last_stored` as soon as a majority's
/// `match_index` reaches it (`replicationQuorum`), whatever that entry's term. A new leader whose log ends
/// in an uncommitted entry of an earlier term therefore commits and applies it once it has copied it to a
/// majority, and a later leader that never had it (elected by voters whose last term is lower than its own)
/// overwrites it: an applied, read entry is gone.
///
/// The guard sits between C-Raft's I/O backend and Raft's receive function (`raft_io.start`'s recv).
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
enum CommitTermGuard {
    typealias RecvFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UnsafeMutablePointer<raft_message>?) -> Void
    private typealias StartFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UInt32, raft_io_tick_cb?, raft_io_recv_cb?) -> Int32
    /// Called on the loop thread, after Raft handled the message, when a leader held back a result and has
    /// no entry of its own term in its log yet.
    typealias OldTailFn = @convention(c) (UnsafeMutablePointer<raft>?) -> Void

    /// Per io (by address), as bit patterns: the backend's start, Raft's recv and the old-tail callback.
    /// Backends differ (libuv, C-Raft's test fixture), so nothing here is shared between ios.
    private struct Wrapped: Sendable { var start: UInt; var recv = UInt(0); var onOldTail: UInt }
    private static let wrapped = Mutex<[UInt: Wrapped]>([:])
    /// Results held back, for tests and logs.
    private static let heldBack = Atomic<Int>(0)
    static var resultsHeldBack: Int { heldBack.load(ordering: .relaxed) }

    /// Wraps `io` before `raft_start` (which calls io->start with Raft's recv).
    static func install(on io: UnsafeMutablePointer<raft_io>, onOldTail: OldTailFn? = nil) {
        let key = UInt(bitPattern: io)
        wrapped.withLock {
            $0[key] = Wrapped(start: unsafeBitCast(io.pointee.start, to: UInt.self), onOldTail: unsafeBitCast(onOldTail, to: UInt.self))
        }
        io.pointee.start = { io, msecs, tick, recv in
            let key = UInt(bitPattern: io)
            let start = CommitTermGuard.wrapped.withLock { w -> UInt in
                w[key]?.recv = unsafeBitCast(recv, to: UInt.self)
                return w[key]?.start ?? 0
            }
            return unsafeBitCast(start, to: StartFn.self)(io, msecs, tick, { io, message in
                CommitTermGuard.received(io, message)
            })
        }
    }

    /// Forgets `io` (after raft_close: its memory may be reused).
    static func uninstall(from io: UnsafeMutablePointer<raft_io>) {
        _ = wrapped.withLock { $0.removeValue(forKey: UInt(bitPattern: io)) }
    }

    private static func received(_ io: UnsafeMutablePointer<raft_io>?, _ message: UnsafeMutablePointer<raft_message>?) {
        guard let io, let w = wrapped.withLock({ $0[UInt(bitPattern: io)] }) else { return }
        let recv = unsafeBitCast(w.recv, to: RecvFn.self)
        guard let message, let data = io.pointee.data, message.pointee.type == UInt16(RAFT_IO_APPEND_ENTRIES_RESULT) else {
            return recv(io, message)
        }
        let r = data.assumingMemoryBound(to: raft.self)
        var held = false
        if r.pointee.state == UInt16(RAFT_LEADER), message.pointee.append_entries_result.rejected == 0,
           message.pointee.append_entries_result.last_log_index > r.pointee.commit_index,
           termOf(r.pointee.last_stored, in: &r.pointee.log) < r.pointee.current_term {
            message.pointee.append_entries_result.last_log_index = r.pointee.commit_index
            heldBack.add(1, ordering: .relaxed)
            held = true
        }
        recv(io, message)
        if held, r.pointee.state == UInt16(RAFT_LEADER), w.onOldTail != 0,
           termOf(raft_last_index(r), in: &r.pointee.log) < r.pointee.current_term {
            unsafeBitCast(w.onOldTail, to: OldTailFn.self)(r)
        }
    }

    /// The term of the entry at `index` (0 when the log does not hold it), as C-Raft's logTermOf.
    static func termOf(_ index: raft_index, in log: UnsafeMutablePointer<raft_log>) -> raft_term {
        let l = log.pointee
        guard index > 0 else { return 0 }
        if index == l.snapshot.last_index { return l.snapshot.last_term }
        let count = l.back >= l.front ? l.back - l.front : l.size - l.front + l.back
        guard index > l.offset, index - l.offset <= UInt64(count) else { return 0 }
        let position = (l.front + Int(index - l.offset - 1)) % l.size
        return l.entries[position].term
    }
}
