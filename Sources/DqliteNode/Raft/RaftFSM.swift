import CRaft
import Synchronization

/// The Raft state machine (FSM version 3): entries are dqlite commands applied to the replicating VFS;
/// snapshots are every database's files. Taking a snapshot stalled the loop thread for 20-40 ms per 40 MB
/// database while it copied the pages; now the loop only takes a `SnapshotView` (copy-on-write arrays), and
/// C-Raft's thread pool (`snapshot_async`) hands C-Raft buffers that point at its pages (`SnapshotBuffers`);
/// the loop lets go of them once the snapshot is on disk.
enum RaftFSM {
    /// `async`: the backend runs `snapshot_async` on its thread pool; without, `snapshot` encodes at once.
    static func make(owner: UnsafeMutableRawPointer, async: Bool) -> raft_fsm {
        var fsm = raft_fsm()
        fsm.version = 3
        fsm.data = owner
        fsm.apply = { fsm, buf, result in
            result?.pointee = nil
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buf!.pointee.base, count: buf!.pointee.len))
            return engine.applyEntry(bytes)
        }
        if async {
            fsm.snapshot = { fsm, bufs, n in
                // Loop thread: the state at the last applied entry, handed to snapshot_async.
                let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
                // RAFT_BUSY: C-Raft asks again after the next applied entries.
                guard let view = engine.snapshotViewIfDue() else { return RAFT_BUSY }
                engine.snapshotHandoff.withLock { $0 = view }
                bufs!.pointee = nil
                n!.pointee = 0
                return 0
            }
            fsm.snapshot_async = { fsm, bufs, n in
                // A thread of libuv's pool: only the handoff is touched here.
                let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
                guard let view = engine.snapshotHandoff.withLock({ v -> SnapshotView? in defer { v = nil }; return v }) else {
                    return RAFT_INVALID
                }
                return RaftFSM.buffers(view, engine, bufs, n)
            }
        } else {
            fsm.snapshot = { fsm, bufs, n in
                let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
                guard let view = engine.snapshotViewIfDue() else { return RAFT_BUSY }
                return RaftFSM.buffers(view, engine, bufs, n)
            }
        }
        fsm.snapshot_finalize = { fsm, bufs, n in
            // Loop thread, once the snapshot is stored (or abandoned): the pages it points at are let go of off
            // the loop thread (see OffLoopRelease); the array of buffers is ours to free.
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            engine.snapshotHandoff.withLock { $0 = nil }
            let stored = engine.snapshotBuffers.withLock { b -> SnapshotBuffers? in defer { b = nil }; return b }
            if let array = bufs?.pointee { raft_free(array) }
            if let stored {
                let bytes = stored.bytes
                // Consumed, so that the loop thread holds no reference once the other thread drops its own.
                OffLoopRelease.release(consume stored)
                if bytes > 0, let started = engine.snapshotStarted {
                    engine.noteSnapshotSize(bytes)
                    engine.metrics.recordSnapshot(since: started, bytes: bytes)
                }
            }
            engine.snapshotStarted = nil
            bufs?.pointee = nil
            n?.pointee = 0
            return 0
        }
        fsm.restore = { fsm, buf in
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            // Parsed in place: a copy of a big database's snapshot would double the restore's memory and time.
            let rc = engine.restoreSnapshot(UnsafeRawBufferPointer(start: buf!.pointee.base, count: buf!.pointee.len))
            // On success the FSM owns the buffer; on failure Raft frees it.
            if rc == 0 { raft_free(buf!.pointee.base) }
            return rc
        }
        return fsm
    }

    /// Hands C-Raft `view` as buffers pointing at its pages; `snapshot_finalize` lets go of them.
    static func buffers(_ view: SnapshotView, _ engine: RaftEngine, _ bufs: UnsafeMutablePointer<UnsafeMutablePointer<raft_buffer>?>?,
                        _ n: UnsafeMutablePointer<UInt32>?) -> Int32 {
        guard let (buffers, array) = SnapshotBuffers.make(view) else { return RAFT_NOMEM }
        engine.snapshotBuffers.withLock { $0 = buffers }
        bufs!.pointee = array
        n!.pointee = UInt32(buffers.count)
        return 0
    }
}
