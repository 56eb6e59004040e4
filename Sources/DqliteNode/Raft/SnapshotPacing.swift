/// Whether a snapshot C-Raft asks for is worth taking yet. C-Raft asks once `--snapshot-threshold` entries
/// were applied since the last one, whatever the database's size; a snapshot writes every page of every
/// database, so with a fixed count the bytes snapshots write grow with the database: at 8 writers they were
/// most of the disk's traffic here and set the write tail. With a ratio R > 0 the FSM answers RAFT_BUSY
/// (C-Raft asks again after the next applied entries) until the log applied since the last snapshot is at
/// least R times that snapshot's size, or `maxLogBytes`: snapshot writes then stay within about 1/R of the
/// log's, at the cost of up to min(R x database, maxLogBytes) more log in memory and to replay at a restart.
/// A small database is snapshotted every `--snapshot-threshold` entries as before (its log outgrows it at
/// once). R = 0 takes every snapshot C-Raft asks for, exactly as dqlite does.
///
/// The log each node waits for is `stagger` more (a node's share, by its id): nodes apply the same entries,
/// so with one target they all took their snapshot at once, and a snapshot of a 1.3 GB database on each of
/// three nodes together (compression on 2 cores, then 3 GB written back to the disk) stalled commits for
/// 1.5 s; C-Raft's own threshold is staggered too, but this gate came after it.
///
/// Once the cluster is idle (nothing applied for `idle` on the leader) the leader appends a CHECKPOINT entry
/// (`IdleCompaction`), and a node that applies it takes the snapshot it deferred when C-Raft next asks:
/// an idle node holds no log beyond the trailing.
struct SnapshotPacing {
    let logRatio: Double
    let maxLogBytes: Int
    let stagger: Double
    let idle: Duration
    /// When the last entry was applied (nil before the first).
    private(set) var lastApplied: ContinuousClock.Instant?
    /// C-Raft asked for a snapshot and was refused since the last one taken.
    private(set) var deferring = false
    /// The next snapshot C-Raft asks for is taken (the cluster went idle), unless writes resume first.
    private(set) var requested = false
    /// Bytes of entries applied since the last snapshot taken or installed.
    private(set) var logBytes = 0
    /// Size of the last snapshot's encoding (uncompressed), 0 before the first.
    private(set) var snapshotBytes = 0

    init(logRatio: Double = 0, maxLogBytes: Int = 256 << 20, stagger: Double = 0, idle: Duration = .zero) {
        self.logRatio = logRatio
        self.maxLogBytes = maxLogBytes
        self.stagger = stagger
        self.idle = idle
    }

    mutating func noteApplied(bytes: Int, at now: ContinuousClock.Instant = .now) {
        logBytes += bytes
        lastApplied = now
        requested = false
    }

    /// The cluster is idle: take the next snapshot C-Raft asks for.
    mutating func requestSnapshot() { requested = true }

    /// Nothing applied for `idle` (never, with an idle of zero).
    func isIdle(at now: ContinuousClock.Instant = .now) -> Bool {
        guard idle > .zero, let lastApplied else { return false }
        return lastApplied.duration(to: now) >= idle
    }

    /// Asked when C-Raft wants a snapshot: true to take it (the log count starts again), false to defer.
    mutating func shouldTakeSnapshot() -> Bool {
        let wanted = min(logRatio * Double(snapshotBytes), Double(maxLogBytes)) * (1 + stagger)
        guard logRatio > 0, snapshotBytes > 0, Double(logBytes) < wanted, !requested else {
            logBytes = 0
            deferring = false
            requested = false
            return true
        }
        deferring = true
        return false
    }

    /// A snapshot of `bytes` was stored, or installed (then the log before it is gone: `installed`).
    mutating func noteSnapshot(bytes: Int, installed: Bool) {
        snapshotBytes = bytes
        if installed { logBytes = 0 }
    }
}
