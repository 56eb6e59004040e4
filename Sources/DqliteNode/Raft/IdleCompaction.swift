import CRaft
import CUV

/// What a node lets go of once writes stop. Snapshot pacing keeps up to twice the database's size of log
/// between snapshots, which keeps the write tail short under load (see `SnapshotPacing`), and malloc keeps
/// what it freed; an idle node held both for good (issue 21: 107-150 MiB beyond the database's pages at the
/// end of a benchmark). Every `periodMs` on the loop thread, once nothing has been applied for the pacing's
/// idle time:
/// - the leader appends a CHECKPOINT entry, once per idle spell that follows writes: every node that applies
///   it checkpoints the WAL and takes the snapshot its pacing deferred when C-Raft next asks (C-Raft asks only
///   after applying an entry). The leader decides for all: a follower learns of the last write a heartbeat
///   later than the leader, so an idle time of its own was not yet up when a barrier reached it;
/// - a node that stored a snapshot since its last trim hands malloc's free memory back, off the loop thread
///   (trimming holds malloc's arena locks, which cost the write tail when done after every snapshot).
final class IdleCompaction {
    private unowned let engine: RaftEngine
    private let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    private var closed = false
    /// The last applied entry a CHECKPOINT was appended after.
    private var proposedAfter: ContinuousClock.Instant?
    private var trimmedAfterSnapshots = 0

    init(engine: RaftEngine, periodMs: UInt64) {
        self.engine = engine
        uv_timer_init(engine.loop.loop, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(timer, { t in
            Unmanaged<IdleCompaction>.fromOpaque(t!.pointee.data).takeUnretainedValue().tick()
        }, periodMs, periodMs)
    }

    private func tick() {
        let pacing = engine.snapshotPacing
        guard !closed, engine.initialised, pacing.isIdle() else { return }
        if engine.isLeader, let last = pacing.lastApplied, proposedAfter != last {
            proposedAfter = last
            engine.proposeIdleCheckpoint()
        }
        if engine.snapshotsStored != trimmedAfterSnapshots {
            trimmedAfterSnapshots = engine.snapshotsStored
            OffLoopRelease.trimMalloc()
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        uv_timer_stop(timer)
        uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self)) { h in h?.deallocate() }
    }
}
