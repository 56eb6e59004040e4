import CRaft
import Dispatch
import Foundation
import Synchronization

/// TEST ONLY (`--unsafe-ack-before-sync`): the deliberate durability bug of the bed's power-loss expect-fail
/// scenario. Raft hears that each append is stored on the next turn of the loop, while the entries reach the
/// log file `delay` later, so a majority counts, commits and acknowledges entries that are on no disk yet.
/// A power loss of the nodes then loses the writes acknowledged in the last `delay`: the bed must report
/// lost acknowledged writes.
///
/// It wraps `raft_io`'s append (entries copied: Raft frees its own once told they are stored), and passes on
/// the appends held back before a truncation or a snapshot, so the log keeps Raft's order; at close, what is
/// held back is dropped, as a crash would.
enum UnsafeAckBeforeSync {
    static let delay = Duration.seconds(1)

    private typealias AppendFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UnsafeMutablePointer<raft_io_append>?,
                                                 UnsafePointer<raft_entry>?, UInt32, raft_io_append_cb?) -> Int32
    private typealias SnapshotPutFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UInt32, UnsafeMutablePointer<raft_io_snapshot_put>?,
                                                      UnsafePointer<raft_snapshot>?, raft_io_snapshot_put_cb?) -> Int32
    private typealias TruncateFn = @convention(c) (UnsafeMutablePointer<raft_io>?, raft_index) -> Int32
    private typealias CloseFn = @convention(c) (UnsafeMutablePointer<raft_io>?, raft_io_close_cb?) -> Void

    /// An append held back: our request and our copy of the entries, as bit patterns (all of it is touched on
    /// the loop thread only; the lock is for Swift's sake).
    private struct Held: Sendable {
        var io: UInt
        var request: UInt
        var entries: UInt
        var count: UInt32
        var due: ContinuousClock.Instant
    }

    private struct State: Sendable {
        var append = 0, snapshotPut = 0, truncate = 0, close = 0
        var held: [Held] = []
        /// Appends passed on and not finished, by our request: the entries to free.
        var writing: [UInt: Held] = [:]
        var closed: Set<UInt> = []
    }

    private static let state = Mutex(State())

    /// Wraps `io`'s log functions (after DiskFailureGuard, so its wrappers see the real writes).
    static func install(on io: UnsafeMutablePointer<raft_io>) {
        UnsafeAckBeforeSync.state.withLock { s in
            guard s.append == 0 else { return }
            s.append = unsafeBitCast(io.pointee.append, to: Int.self)
            s.snapshotPut = unsafeBitCast(io.pointee.snapshot_put, to: Int.self)
            s.truncate = unsafeBitCast(io.pointee.truncate, to: Int.self)
            s.close = unsafeBitCast(io.pointee.close, to: Int.self)
        }
        io.pointee.append = { io, req, entries, n, cb in
            guard let io, let req, let engine = UnsafeAckBeforeSync.engine(of: io) else { return RAFT_INVALID }
            let copy = UnsafeMutablePointer<raft_entry>.allocate(capacity: max(1, Int(n)))
            for i in 0..<Int(n) {
                let e = entries![i]
                let base = malloc(max(1, e.buf.len))!
                if e.buf.len > 0 { memcpy(base, e.buf.base, e.buf.len) }
                copy[i] = raft_entry(term: e.term, type: e.type, buf: raft_buffer(base: base, len: e.buf.len), batch: nil)
            }
            let ours = UnsafeMutablePointer<raft_io_append>.allocate(capacity: 1)
            ours.initialize(to: raft_io_append())
            UnsafeAckBeforeSync.state.withLock {
                $0.held.append(Held(io: UInt(bitPattern: io), request: UInt(bitPattern: ours), entries: UInt(bitPattern: copy),
                                    count: n, due: .now + UnsafeAckBeforeSync.delay))
            }
            // Raft hears "stored" on the next loop turn, not inside this call (it is not ready for that).
            let request = UInt(bitPattern: req), callback = unsafeBitCast(cb, to: UInt.self)
            let key = UInt(bitPattern: io)
            engine.loop.submit {
                guard !UnsafeAckBeforeSync.state.withLock({ $0.closed.contains(key) }) else { return }
                unsafeBitCast(callback, to: raft_io_append_cb?.self)?(UnsafeMutablePointer(bitPattern: request), 0)
            }
            let loop = engine.loop
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(UnsafeAckBeforeSync.delay.components.seconds * 1000))) {
                loop.submit { UnsafeAckBeforeSync.passOn(all: false) }
            }
            return 0
        }
        io.pointee.truncate = { io, index in
            UnsafeAckBeforeSync.passOn(all: true)
            return unsafeBitCast(UnsafeAckBeforeSync.state.withLock { $0.truncate }, to: TruncateFn.self)(io, index)
        }
        io.pointee.snapshot_put = { io, trailing, req, snapshot, cb in
            UnsafeAckBeforeSync.passOn(all: true)
            return unsafeBitCast(UnsafeAckBeforeSync.state.withLock { $0.snapshotPut }, to: SnapshotPutFn.self)(io, trailing, req, snapshot, cb)
        }
        io.pointee.close = { io, cb in
            let dropped = UnsafeAckBeforeSync.state.withLock { s -> [Held] in
                s.closed.insert(UInt(bitPattern: io))
                let mine = s.held.filter { $0.io == UInt(bitPattern: io) }
                s.held.removeAll { $0.io == UInt(bitPattern: io) }
                return mine
            }
            dropped.forEach(UnsafeAckBeforeSync.release)
            unsafeBitCast(UnsafeAckBeforeSync.state.withLock { $0.close }, to: CloseFn.self)(io, cb)
        }
    }

    private static func engine(of io: UnsafeMutablePointer<raft_io>) -> RaftEngine? {
        guard let raft = io.pointee.data?.assumingMemoryBound(to: CRaft.raft.self), let owner = raft.pointee.data else { return nil }
        return Unmanaged<RaftEngine>.fromOpaque(owner).takeUnretainedValue()
    }

    /// Passes the held appends that are due (every one, with `all`) to the log, in Raft's order.
    private static func passOn(all: Bool) {
        let now = ContinuousClock.now
        let due = state.withLock { s -> [Held] in
            let count = all ? s.held.count : (s.held.firstIndex { $0.due > now } ?? s.held.count)
            let out = Array(s.held.prefix(count))
            s.held.removeFirst(count)
            for h in out where !s.closed.contains(h.io) { s.writing[h.request] = h }
            return out
        }
        let original = unsafeBitCast(state.withLock { $0.append }, to: AppendFn.self)
        for h in due {
            guard !state.withLock({ $0.closed.contains(h.io) }) else { release(h); continue }
            let rc = original(UnsafeMutablePointer(bitPattern: h.io), UnsafeMutablePointer(bitPattern: h.request),
                              UnsafePointer(bitPattern: h.entries), h.count, { req, _ in
                if let h = UnsafeAckBeforeSync.state.withLock({ $0.writing.removeValue(forKey: UInt(bitPattern: req)) }) {
                    UnsafeAckBeforeSync.release(h)
                }
            })
            if rc != 0, let h = state.withLock({ $0.writing.removeValue(forKey: h.request) }) { release(h) }
        }
    }

    private static func release(_ h: Held) {
        guard let entries = UnsafeMutablePointer<raft_entry>(bitPattern: h.entries) else { return }
        for i in 0..<Int(h.count) { free(entries[i].buf.base) }
        entries.deallocate()
        UnsafeMutablePointer<raft_io_append>(bitPattern: h.request)?.deallocate()
    }
}
