import CRaft

/// The Raft state machine (FSM version 1): entries are dqlite commands applied to the replicating VFS;
/// snapshots are every database's files.
enum RaftFSM {
    static func make(owner: UnsafeMutableRawPointer) -> raft_fsm {
        var fsm = raft_fsm()
        fsm.version = 1
        fsm.data = owner
        fsm.apply = { fsm, buf, result in
            result?.pointee = nil
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buf!.pointee.base, count: buf!.pointee.len))
            return engine.applyEntry(bytes)
        }
        fsm.snapshot = { fsm, bufs, n in
            let engine = Unmanaged<RaftEngine>.fromOpaque(fsm!.pointee.data).takeUnretainedValue()
            // Raft frees both the array and each base (FSM version 1).
            let size = engine.vfs.encodedSnapshotSize()
            guard let base = raft_malloc(max(1, size)) else { return RAFT_NOMEM }
            guard let array = raft_malloc(MemoryLayout<raft_buffer>.size)?.bindMemory(to: raft_buffer.self, capacity: 1) else {
                raft_free(base)
                return RAFT_NOMEM
            }
            engine.vfs.writeSnapshot(into: base, size: size)
            engine.noteSnapshotSize(size)
            array.pointee = raft_buffer(base: base, len: size)
            bufs!.pointee = array
            n!.pointee = 1
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
}
