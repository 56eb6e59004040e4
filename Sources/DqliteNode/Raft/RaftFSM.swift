import CRaft
import Synchronization

/// The Raft state machine (FSM version 3): entries are dqlite commands applied to the replicating VFS;
/// snapshots are every database's files. Taking a snapshot stalled the loop thread for 20-40 ms per 40 MB
/// database while it copied the pages; now the loop only takes a `SnapshotView` (copy-on-write arrays) and
/// C-Raft's thread pool encodes it (`snapshot_async`); the loop frees the encoding once it is on disk.
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
                guard engine.snapshotPacing.shouldTakeSnapshot() else { return RAFT_BUSY }
                engine.snapshotStarted = .now
                let view = engine.vfs.snapshotView()
                engine.snapshotEncodingBytes = view.encodedSize
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
                return RaftFSM.encode(view, bufs, n)
            }
        } else {
            fsm.snapshot = { fsm, bufs, n in
                let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
                guard engine.snapshotPacing.shouldTakeSnapshot() else { return RAFT_BUSY }
                engine.snapshotStarted = .now
                let view = engine.vfs.snapshotView()
                engine.snapshotEncodingBytes = view.encodedSize
                return RaftFSM.encode(view, bufs, n)
            }
        }
        fsm.snapshot_finalize = { fsm, bufs, n in
            // Loop thread, once the snapshot is stored (or abandoned): the buffers are ours to free (off the
            // loop thread, see OffLoopRelease).
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            engine.snapshotHandoff.withLock { $0 = nil }
            engine.snapshotEncodingBytes = 0
            if let array = bufs?.pointee {
                var size = 0
                var buffers: [UnsafeMutableRawPointer] = []
                for i in 0..<Int(n!.pointee) {
                    size += array[i].len
                    if let base = array[i].base { buffers.append(base) }
                }
                raft_free(array)
                OffLoopRelease.free(buffers)
                if size > 0 {
                    engine.noteSnapshotSize(size)
                    engine.metrics.recordSnapshot(since: engine.snapshotStarted, bytes: size)
                }
                engine.snapshotStarted = nil
            }
            bufs?.pointee = nil
            n?.pointee = 0
            return 0
        }
        fsm.restore = { fsm, buf in
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buf!.pointee.base, count: buf!.pointee.len))
            let rc = engine.restoreSnapshot(bytes)
            // On success the FSM owns the buffer; on failure Raft frees it.
            if rc == 0 { raft_free(buf!.pointee.base) }
            return rc
        }
        return fsm
    }

    /// Encodes `view` into one buffer that `snapshot_finalize` frees.
    static func encode(_ view: SnapshotView, _ bufs: UnsafeMutablePointer<UnsafeMutablePointer<raft_buffer>?>?,
                       _ n: UnsafeMutablePointer<UInt32>?) -> Int32 {
        let size = view.encodedSize
        guard let base = raft_malloc(max(1, size)) else { return RAFT_NOMEM }
        guard let array = raft_malloc(MemoryLayout<raft_buffer>.size)?.bindMemory(to: raft_buffer.self, capacity: 1) else {
            raft_free(base)
            return RAFT_NOMEM
        }
        view.write(into: base, size: size)
        array.pointee = raft_buffer(base: base, len: size)
        bufs!.pointee = array
        n!.pointee = 1
        return 0
    }
}
