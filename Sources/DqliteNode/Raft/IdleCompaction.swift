import CRaft

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
    private var timer: LoopTimer?
    /// The last applied entry a CHECKPOINT was appended after.
    private var proposedAfter: ContinuousClock.Instant?
    private var trimmedAfterSnapshots = 0

    init(engine: RaftEngine, periodMs: UInt64) {
        self.engine = engine
        timer = LoopTimer(loop: engine.loop.loop, firstMs: periodMs, periodMs: periodMs) { [unowned self] in tick() }
    }

    private func tick() {
        let pacing = engine.snapshotPacing
        guard engine.initialised, pacing.isIdle() else { return }
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
        timer?.close()
    }
}
