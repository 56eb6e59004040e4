#if canImport(Glibc)
import Glibc
#endif
import CRaft
import Synchronization

/// Stops the node at the first failed write of its Raft log, metadata or snapshots (fail-stop, as databases
/// do after a failed fsync). C-Raft 0.15's libuv backend cannot write again after one failure: it fails
/// every later append and tells no one, so a follower silently stops acknowledging forever and a leader
/// fails its callers' commits although those entries may still commit through the followers (a client
/// told "failed" whose write then appears). Exiting before Raft hears of the failure turns every such
/// commit into an unknown outcome for the client (its connection drops), and a restart recovers from what
/// the disk holds. Found by the chaos bed's disk faults (dqlite-disk-faults).
///
/// It works by wrapping the backend's write functions in `raft_io`; the callbacks of requests in flight
/// are kept here by request address, because C callbacks carry no context of ours.
enum DiskFailureGuard {
    private typealias AppendFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UnsafeMutablePointer<raft_io_append>?,
                                                 UnsafePointer<raft_entry>?, UInt32, raft_io_append_cb?) -> Int32
    private typealias SnapshotPutFn = @convention(c) (UnsafeMutablePointer<raft_io>?, UInt32, UnsafeMutablePointer<raft_io_snapshot_put>?,
                                                      UnsafePointer<raft_snapshot>?, raft_io_snapshot_put_cb?) -> Int32
    private typealias TruncateFn = @convention(c) (UnsafeMutablePointer<raft_io>?, raft_index) -> Int32
    private typealias SetTermFn = @convention(c) (UnsafeMutablePointer<raft_io>?, raft_term) -> Int32
    private typealias SetVoteFn = @convention(c) (UnsafeMutablePointer<raft_io>?, raft_id) -> Int32

    /// The backend's own functions (the same for every node in a process), as bit patterns.
    private struct Originals: Sendable { var append = 0, snapshotPut = 0, truncate = 0, setTerm = 0, setVote = 0 }
    private static let originals = Mutex(Originals())
    /// Raft's callback of each append or snapshot_put in flight and the io it went to, by request address.
    private struct InFlight: Sendable { var callback: UInt, io: UInt }
    private static let callbacks = Mutex<[UInt: InFlight]>([:])

    /// Wraps `io`'s write functions; after raft_uv_init and raft_init (which points io->data at the raft).
    static func install(on io: UnsafeMutablePointer<raft_io>) {
        originals.withLock { o in
            guard o.append == 0 else { return }  // every raft_uv shares the backend's functions
            o.append = unsafeBitCast(io.pointee.append, to: Int.self)
            o.snapshotPut = unsafeBitCast(io.pointee.snapshot_put, to: Int.self)
            o.truncate = unsafeBitCast(io.pointee.truncate, to: Int.self)
            o.setTerm = unsafeBitCast(io.pointee.set_term, to: Int.self)
            o.setVote = unsafeBitCast(io.pointee.set_vote, to: Int.self)
        }
        io.pointee.append = { io, req, entries, n, cb in
            let original = unsafeBitCast(DiskFailureGuard.originals.withLock { $0.append }, to: AppendFn.self)
            let key = UInt(bitPattern: req)
            DiskFailureGuard.callbacks.withLock { $0[key] = InFlight(callback: unsafeBitCast(cb, to: UInt.self), io: UInt(bitPattern: io)) }
            let rc = original(io, req, entries, n, { req, status in
                let f = DiskFailureGuard.callbacks.withLock { $0.removeValue(forKey: UInt(bitPattern: req)) }
                if status != 0 { DiskFailureGuard.failed(UnsafeMutablePointer(bitPattern: f?.io ?? 0), status, "appending to the Raft log") }
                unsafeBitCast(f?.callback ?? 0, to: raft_io_append_cb?.self)?(req, status)
            })
            if rc != 0 {
                DiskFailureGuard.callbacks.withLock { $0[key] = nil }
                DiskFailureGuard.failed(io, rc, "appending to the Raft log")
            }
            return rc
        }
        io.pointee.snapshot_put = { io, trailing, req, snapshot, cb in
            let original = unsafeBitCast(DiskFailureGuard.originals.withLock { $0.snapshotPut }, to: SnapshotPutFn.self)
            let key = UInt(bitPattern: req)
            DiskFailureGuard.callbacks.withLock { $0[key] = InFlight(callback: unsafeBitCast(cb, to: UInt.self), io: UInt(bitPattern: io)) }
            let rc = original(io, trailing, req, snapshot, { req, status in
                let f = DiskFailureGuard.callbacks.withLock { $0.removeValue(forKey: UInt(bitPattern: req)) }
                if status != 0 { DiskFailureGuard.failed(UnsafeMutablePointer(bitPattern: f?.io ?? 0), status, "storing a snapshot") }
                unsafeBitCast(f?.callback ?? 0, to: raft_io_snapshot_put_cb?.self)?(req, status)
            })
            if rc != 0 {
                DiskFailureGuard.callbacks.withLock { $0[key] = nil }
                DiskFailureGuard.failed(io, rc, "storing a snapshot")
            }
            return rc
        }
        io.pointee.truncate = { io, index in
            let rc = unsafeBitCast(DiskFailureGuard.originals.withLock { $0.truncate }, to: TruncateFn.self)(io, index)
            if rc != 0 { DiskFailureGuard.failed(io, rc, "truncating the Raft log") }
            return rc
        }
        io.pointee.set_term = { io, term in
            let rc = unsafeBitCast(DiskFailureGuard.originals.withLock { $0.setTerm }, to: SetTermFn.self)(io, term)
            if rc != 0 { DiskFailureGuard.failed(io, rc, "storing the term") }
            return rc
        }
        io.pointee.set_vote = { io, vote in
            let rc = unsafeBitCast(DiskFailureGuard.originals.withLock { $0.setVote }, to: SetVoteFn.self)(io, vote)
            if rc != 0 { DiskFailureGuard.failed(io, rc, "storing the vote") }
            return rc
        }
    }

    /// Cancellations while Raft closes are not failures.
    private static func failed(_ io: UnsafeMutablePointer<raft_io>?, _ status: Int32, _ what: String) {
        guard status != RAFT_CANCELED, status != RAFT_SHUTDOWN else { return }
        let detail = io.map { p in withUnsafeBytes(of: &p.pointee.errmsg) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) } } ?? ""
        let raft = io?.pointee.data?.assumingMemoryBound(to: CRaft.raft.self)
        if let owner = raft?.pointee.data {
            Unmanaged<RaftEngine>.fromOpaque(owner).takeUnretainedValue().diskFailed("\(what): \(String(cString: raft_strerror(status)))" + (detail.isEmpty ? "" : " (\(detail))"))
        } else {
            RaftEngine.diskFailedWithoutEngine("\(what): \(String(cString: raft_strerror(status)))")
        }
    }
}
