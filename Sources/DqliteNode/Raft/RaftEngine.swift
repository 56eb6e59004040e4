#if canImport(Glibc)
import Glibc
#endif
import CRaft
import Synchronization
import Logging
import CSQLite
import CUV
import DqliteClient
import DqliteWire

/// Settings of one node.
public struct NodeSettings: Sendable {
    /// C dqlite uses 3000/500; a follower notices a dead leader after 1-2 election timeouts, so failover took
    /// about 6 s. On a LAN 500/100 gives failover within 1.5 s (harness/failover.py); when the leader's process
    /// died, `LeaderWatch` does not wait for the timeout at all.
    public var electionTimeoutMs: UInt32 = 500
    public var heartbeatTimeoutMs: UInt32 = 100
    /// Elect a new leader as soon as the leader's host refuses connections (its process died), instead of
    /// after the election timeout (see `LeaderWatch`). Off: C-Raft's timers alone, as C dqlite.
    public var fastFailover = true
    public var snapshotThreshold: UInt32 = 1024
    /// About how many bytes of entries are applied before C-Raft asks for a snapshot: fewer than
    /// `snapshotThreshold` entries when they are big (a transaction of 1 000 rows), see `EntryCountBudget`.
    public var snapshotThresholdBytes = 16 << 20
    public var snapshotTrailing: UInt32 = 8192
    /// About how many bytes of entries the log keeps after a snapshot: fewer than `snapshotTrailing` entries
    /// when they are big (grouped commits), see `EntryCountBudget`.
    public var snapshotTrailingBytes = 8 << 20
    /// Defer a snapshot until the log applied since the last one is this many times that snapshot's size,
    /// or `snapshotLogMaxBytes` (see `SnapshotPacing`); 0 takes one every `snapshotThreshold` entries, as
    /// dqlite does. Fewer snapshots keep the write tail short: with snapshots pointing at the pages
    /// (`SnapshotBuffers`) and 8 MiB trailing, 3 interleaved runs each of 40 000 writes (issue 21) gave p99
    /// 5.9 ms at 8 writers and 2.0-2.2 at 1 writer with ratio 2, against 7.7 and 2.8 with ratio 1, for a peak
    /// RSS per node of 170-206 MiB against 151-175.
    public var snapshotLogRatio = 2.0
    public var snapshotLogMaxBytes = 256 << 20
    /// After this long without a write, a node takes the snapshot pacing deferred and hands malloc's free
    /// memory back (see `IdleCompaction`); 0: never.
    public var snapshotIdleMs: UInt32 = 2000
    /// How long a write waits for the write lock (held by another connection's transaction, or by one that
    /// is replicating) before failing with SQLITE_BUSY. C dqlite 1.11 fails at once (0).
    public var busyTimeoutMs: UInt32 = 5000
    /// How long a write waits for its Raft entry to commit before it is answered with "commit timed out"
    /// (outcome unknown: the entry may still commit). 0: it waits for Raft (a step-down) or the client.
    public var applyTimeoutMs: UInt32 = 10_000
    /// Mutual TLS for every connection on the node's address, clients' and peers', and for those it makes
    /// (see `TLSContext`); nil: plain TCP, as C dqlite.
    public var tls: TLSContext?
    /// Serve reads without confirming leadership first (C dqlite's behaviour: a deposed leader may answer
    /// from a stale state for up to an election timeout). Off: reads are linearizable.
    public var staleReads = false
    /// TEST ONLY: let C-Raft 0.15 commit entries of earlier terms by counting replicas (Raft's figure 8),
    /// as C dqlite 1.11 does; off, `RaftReceiveFilter` stops it. For the chaos bed's figure-8 scenario.
    public var unsafeOldTermCommits = false
    /// TEST ONLY: grant read leases whatever the voters' clock rates; off, `ClockAgreement` withholds the
    /// lease while a voter's clock runs outside ±5% of the leader's. For the chaos bed's clock scenarios.
    public var unsafeLeaseAnyClock = false
    /// TEST ONLY: acknowledge a commit as soon as it is sent to Raft, before Raft commits it. Breaks
    /// linearizability and durability on purpose, so the chaos gate can be shown to catch it.
    public var unsafeAckBeforeCommit = false
    /// TEST ONLY: tell Raft each append is stored at once and write it a second later (`UnsafeAckBeforeSync`).
    /// Breaks durability on purpose, so the chaos gate's power-loss scenario can be shown to catch it.
    public var unsafeAckBeforeSync = false
    /// Size of the Raft log's segment files. Closing one (when it is full, and at every snapshot) stalled the
    /// loop thread for tens of milliseconds in C-Raft 0.15 (io_destroy of its AIO context), which made
    /// C-Raft's 8 MiB the 8-writer p99 (38 ms at ~2 700 writes/s here) until 32 MiB made closes rarer. Once
    /// that stall moved off the loop (CAIODestroy), the cost left is I/O: each new segment is written with
    /// zeros before use (CSegmentPrefill), a burst that competes with appends, and a snapshot closes the
    /// open segment early, wasting the rest of its zeros. Smaller segments mean smaller, evenly spread
    /// bursts: 8-writer kvwrite p99 here, alternated runs, 16 MiB lower than 32 in 10 of 10 pairs, and
    /// 8 MiB (C-Raft's and dqlite's default again) lower than 16 in 3 of 3 with snapshot pacing; one writer
    /// the same. An entry bigger than a segment still goes in one (a 3 MB row with 1 MiB segments survives
    /// a restart).
    public var segmentSizeMiB: UInt32 = 8
    /// Whether snapshots are LZ4-compressed: always (C-Raft's and dqlite's default), never, or when a sample
    /// of each snapshot's pages shows it pays (see `SnapshotCompression`).
    public var snapshotCompression = SnapshotCompression.on
    /// Write FRAMES entries LZ4-compressed when that makes them smaller (a command type of ours, see
    /// `Command.encoded(compressed:)`; every node reads both). Off: entries are C dqlite's bytes exactly.
    public var logCompression = true
    /// How long a leader waits for a follower to answer an InstallSnapshot before sending it again, for a
    /// small snapshot; bigger ones get more (see `SnapshotInstallTimeout`). 0: four election timeouts, at
    /// least 2 s. C-Raft's default is 30 s: a follower killed while receiving a snapshot was then ignored
    /// for 30 s after restarting (the leader drops its rejections while a snapshot is outstanding).
    public var installSnapshotTimeoutMs: UInt32 = 0
    /// What happens after a write of the Raft log, metadata or a snapshot failed (see `DiskFailureGuard`):
    /// the failure is logged as critical, then this runs on the loop thread. By default the process exits
    /// with `NodeSettings.diskFailureExitCode` at once, before Raft hears of the failure.
    public var onDiskFailure: @Sendable (String) -> Void = { _ in
        fflush(nil)
        _exit(NodeSettings.diskFailureExitCode)
    }
    /// EX_IOERR of sysexits.h.
    public static let diskFailureExitCode: Int32 = 74
    /// Where the node says what it does: info for lifecycle and leadership, warning for lost commits, error
    /// for state it could not apply, debug and trace for the details.
    public var logger = Logger(label: "dqlite-node")

    public init() {}
}

/// C-Raft with its libuv backend, the FSM and the VFS, all owned by the loop thread. Every method here runs
/// on that thread.
final class RaftEngine {
    let id: UInt64
    let address: String
    let loop: UVLoop
    let vfs: ReplicatingVFS
    let transport: RaftTransport
    let raft = UnsafeMutablePointer<CRaft.raft>.allocate(capacity: 1)
    let io = UnsafeMutablePointer<raft_io>.allocate(capacity: 1)
    let fsm = UnsafeMutablePointer<raft_fsm>.allocate(capacity: 1)
    private(set) var initialised = false
    /// Set when the node begins to stop: no new entries are proposed.
    var stopping = false
    /// Set while this leader hands leadership over before a planned stop: nothing new is proposed, so no
    /// write is caught in the transfer with an unknown outcome (clients retry on the new leader).
    var handingOver = false
    /// The latest term in which this leader applied a barrier of its own (see `barrierIfNeeded`).
    var confirmedTerm: UInt64 = 0
    /// WAL frames that trigger a checkpoint.
    var checkpointThreshold = 1000 {
        didSet { vfs.checkpointFrames = checkpointThreshold }
    }
    /// One connection per database for checkpoints.
    var checkpointers: [String: SQLiteConnection] = [:]
    /// When a failed checkpoint of each database was last logged (see `maybeCheckpoint`).
    private var checkpointFailureLogged: [String: ContinuousClock.Instant] = [:]
    /// The state of a snapshot being taken, from the loop thread to the thread that encodes it (RaftFSM).
    let snapshotHandoff = Mutex<SnapshotView?>(nil)
    /// The snapshot C-Raft is storing, from the thread that made its buffers until `snapshot_finalize`.
    let snapshotBuffers = Mutex<SnapshotBuffers?>(nil)
    /// Applies waiting for their callbacks; raft_close must wait for them (reference P1).
    var inFlight = 0
    /// Watches the leader this voter follows (see `LeaderWatch`); nil when fast failover is off.
    var leaderWatch: LeaderWatch?
    /// Leadership confirmations for reads; nil with stale reads.
    var readConfirmation: ReadConfirmation?
    /// Writers waiting for a write lock, and how long they may wait.
    var busyQueue: BusyQueue?
    /// Commits answered with a timeout when Raft takes too long (nil: no apply timeout).
    var applyDeadlines: ApplyDeadlines?
    /// Groups the transactions of a loop turn into one Raft entry.
    lazy var commits = CommitBatcher(engine: self)
    /// See `NodeSettings.logger`.
    var logger = Logger(label: "dqlite-node")
    /// Counters, gauges and timings for the program's metrics backend (`NodeMetrics`).
    let metrics = NodeMetrics()
    /// When the snapshot being taken started (for the metrics).
    var snapshotStarted: ContinuousClock.Instant?
    /// Samples Raft's state into `metrics` every second while Raft runs.
    var metricsSampler: MetricsSampler?
    var idleCompaction: IdleCompaction?
    /// Writes snapshot files back to the disk as C-Raft writes them.
    private var snapshotWriteback: SnapshotWriteback?
    /// Snapshots taken or installed since the start.
    private(set) var snapshotsStored = 0
    /// See `NodeSettings.segmentSizeMiB`.
    var segmentSizeMiB: UInt32 = 8
    /// See `NodeSettings.snapshotCompression`.
    var snapshotCompression = SnapshotCompression.on
    /// What C-Raft was last told: whether the snapshots it stores are compressed.
    private(set) var compressingSnapshots = false
    /// libraft was built with LZ4.
    private var lz4 = false
    /// A snapshot's pages were sampled (`auto`): the choice is logged when it is first made and when it changes.
    private var sampledSnapshot = false
    /// See `NodeSettings.logCompression`.
    var logCompression = true
    /// See `NodeSettings.unsafeAckBeforeCommit`.
    var unsafeAckBeforeCommit = false
    /// The data dir (see `start`).
    private(set) var dataDir = ""
    /// This node lost Raft data and holds its vote until a leader has caught it up (`DamagedRaftData`).
    private(set) var catchingUp = false
    private var catchUpWatch: CatchUpWatch?
    /// The term in which this leader last asked for an entry of its own (`appendEntryOfOwnTerm`).
    private var ownEntryTerm: UInt64 = 0
    var busyTimeoutMs: UInt32 = 0
    /// Follows the size of the latest snapshot taken or installed.
    var installTimeout = SnapshotInstallTimeout(baseMs: 2000)
    /// The applied entries' size, which the trailing and the threshold follow.
    var entrySizes = EntrySizeAverage()
    /// The snapshot trailing count, following the entries' size.
    var trailing = EntryCountBudget(configured: 8192, budgetBytes: 8 << 20, floor: 64)
    /// The snapshot threshold, following the entries' size.
    var threshold = EntryCountBudget(configured: 1024, budgetBytes: 16 << 20, floor: 8)
    /// Whether a snapshot C-Raft asks for is taken now.
    var snapshotPacing = SnapshotPacing()
    /// See `NodeSettings.onDiskFailure`.
    var onDiskFailure: @Sendable (String) -> Void = { _ in }

    init(id: UInt64, address: String, loop: UVLoop, vfs: ReplicatingVFS) {
        self.id = id
        self.address = address
        self.loop = loop
        self.vfs = vfs
        vfs.checkpointFrames = checkpointThreshold
        transport = RaftTransport(loop: loop.loop)
        raft.initialize(to: CRaft.raft())
        io.initialize(to: raft_io())
        fsm.initialize(to: raft_fsm())
    }

    deinit {
        RaftReceiveFilter.uninstall(from: io)
        raft.deallocate()
        io.deallocate()
        fsm.deallocate()
    }

    /// raft_uv_init and raft_init on `dir`, with the FSM. After this, `close` is required (even if Raft never
    /// starts), or the loop keeps raft_uv's timer.
    /// (`start` has already inspected the Raft files, snapshots included: `recover` checks its snapshots itself.)
    private func initialise(dir: String) throws(NodeError) {
        let rc = raft_uv_init(io, loop.loop, dir, transport.transport)
        guard rc == 0 else { throw .raft(rc, "raft_uv_init in \(dir): \(errorMessage(io: true))") }
        raft_uv_set_segment_size(io, Int(segmentSizeMiB) << 20)
        lz4 = raft_uv_set_snapshot_compression(io, true) == 0
        if snapshotCompression == .on && !lz4 {
            raft_uv_close(io)
            throw .raft(RAFT_INVALID, "snapshot compression: libraft was built without LZ4")
        }
        compressingSnapshots = snapshotCompression == .on
        raft_uv_set_snapshot_compression(io, compressingSnapshots)
        metrics.snapshotCompressed.record(compressingSnapshots ? 1 : 0)
        // C-Raft 0.15's libuv backend implements async_work (raft_io version 2) but still says version 1,
        // and raft_init accepts an FSM that encodes snapshots off the loop only from a version 2 backend.
        let asyncSnapshots = io.pointee.async_work != nil
        if asyncSnapshots { io.pointee.version = max(io.pointee.version, 2) }
        fsm.pointee = RaftFSM.make(owner: Unmanaged.passUnretained(self).toOpaque(), async: asyncSnapshots)
        let initRC = raft_init(raft, io, fsm, id, address)
        guard initRC == 0 else {
            raft_uv_close(io)
            throw .raft(initRC, "raft_init: \(String(cString: raft_strerror(initRC)))")
        }
        initialised = true
        raft.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Initialise, bootstrap (first start of a node that bootstraps), raft_start.
    func start(dir: String, bootstrap voters: [(UInt64, String)], settings: NodeSettings) throws(NodeError) {
        segmentSizeMiB = settings.segmentSizeMiB
        snapshotCompression = settings.snapshotCompression
        logCompression = settings.logCompression
        logger = settings.logger
        onDiskFailure = settings.onDiskFailure
        dataDir = dir
        let inspecting = ContinuousClock.now
        if let damage = DamagedRaftData.inspect(dir: dir, segmentSize: Int(settings.segmentSizeMiB) << 20) {
            let aside = try DamagedRaftData.quarantine(dir: dir, reason: damage)
            logger.warning("Raft data damaged (\(damage)): log and snapshots moved to \(aside); rejoining with an empty log, holding this node's vote until the leader has caught it up")
        }
        logger.info("Raft data checked in \(inspecting.duration(to: .now))")
        catchingUp = DamagedRaftData.isCatchingUp(dir: dir)
        try initialise(dir: dir)
        DiskFailureGuard.install(on: io)
        if settings.unsafeAckBeforeSync { UnsafeAckBeforeSync.install(on: io) }
        RaftReceiveFilter.install(
            on: io, guardCommits: !settings.unsafeOldTermCommits,
            onOldTail: { r in Unmanaged<RaftEngine>.fromOpaque(r!.pointee.data).takeUnretainedValue().appendEntryOfOwnTerm() },
            holdVotes: catchingUp,
            onCaughtUp: { r in Unmanaged<RaftEngine>.fromOpaque(r!.pointee.data).takeUnretainedValue().caughtUp() })
        var rc: Int32
        raft_set_election_timeout(raft, settings.electionTimeoutMs)
        raft_set_heartbeat_timeout(raft, settings.heartbeatTimeoutMs)
        setSnapshotThreshold(settings.snapshotThreshold)
        raft_set_snapshot_trailing(raft, settings.snapshotTrailing)
        trailing = EntryCountBudget(configured: settings.snapshotTrailing, budgetBytes: settings.snapshotTrailingBytes, floor: 64)
        threshold = EntryCountBudget(configured: settings.snapshotThreshold, budgetBytes: settings.snapshotThresholdBytes, floor: 8)
        snapshotPacing = SnapshotPacing(logRatio: settings.snapshotLogRatio, maxLogBytes: settings.snapshotLogMaxBytes,
                                        stagger: Double(id % 4) / 8, idle: .milliseconds(Int(settings.snapshotIdleMs)))
        raft_set_pre_vote(raft, true)
        installTimeout = SnapshotInstallTimeout(baseMs: settings.installSnapshotTimeoutMs > 0
            ? settings.installSnapshotTimeoutMs : max(2000, 4 * settings.electionTimeoutMs))
        raft_set_install_snapshot_timeout(raft, installTimeout.milliseconds)
        if !voters.isEmpty {
            var conf = raft_configuration()
            raft_configuration_init(&conf)
            defer { raft_configuration_close(&conf) }
            for (voter, at) in voters { raft_configuration_add(&conf, voter, at, RAFT_VOTER) }
            rc = raft_bootstrap(raft, &conf)
            guard rc == 0 || rc == RAFT_CANTBOOTSTRAP else { throw .raft(rc, "raft_bootstrap: \(errorMessage())") }
        }
        snapshotWriteback = SnapshotWriteback(dir: dir)
        let starting = ContinuousClock.now
        rc = raft_start(raft)
        guard rc == 0 else { throw .raft(rc, "raft_start: \(errorMessage())") }
        // What a restart costs: the snapshot C-Raft loaded (restored above) and the entries after it, replayed.
        logger.info("Raft started in \(starting.duration(to: .now)): snapshot at index \(raft.pointee.log.snapshot.last_index), log up to \(raft.pointee.last_stored), applied \(raft.pointee.last_applied)")
        metricsSampler = MetricsSampler(engine: self)
        if settings.snapshotIdleMs > 0 { idleCompaction = IdleCompaction(engine: self, periodMs: UInt64(max(100, settings.snapshotIdleMs / 4))) }
        if catchingUp && RaftReceiveFilter.holdingVotes(raft) {
            logger.warning("catching up: this node lost Raft data, and holds its vote until the leader has caught it up")
            catchUpWatch = CatchUpWatch(engine: self, periodMs: UInt64(max(5000, 10 * settings.electionTimeoutMs)))
        }
    }

    /// The leader has caught this node up after it lost Raft data (`RaftReceiveFilter`): it votes again.
    func caughtUp() {
        catchingUp = false
        catchUpWatch?.close()
        catchUpWatch = nil
        DamagedRaftData.caughtUp(dir: dataDir)
        logger.info("caught up from the leader (applied up to \(raft.pointee.last_applied) in term \(term)): voting again")
    }

    /// Forces `members` as the configuration in `dir`'s Raft log (after the loss of a majority), without
    /// starting Raft. Run once, on the most up-to-date survivor, with the node stopped.
    func recover(dir: String, members: [(UInt64, String, NodeRole)]) throws(NodeError) {
        try SnapshotFileCheck.check(dir: dir)
        try initialise(dir: dir)
        var conf = raft_configuration()
        raft_configuration_init(&conf)
        defer { raft_configuration_close(&conf) }
        for (member, at, role) in members { raft_configuration_add(&conf, member, at, Self.raftRole(role)) }
        let rc = raft_recover(raft, &conf)
        guard rc == 0 else { throw .raft(rc, "raft_recover: \(errorMessage())") }
    }

    /// This node's current Raft term.
    var term: UInt64 { raft.pointee.current_term }

    /// Leading, and neither stopping nor handing over (such a node proposes nothing more, so it serves no
    /// more requests: clients are told it is not the leader and try again, on the next one).
    var isLeader: Bool { initialised && !stopping && !handingOver && isRaftLeader }

    /// Leading as far as Raft is concerned.
    var isRaftLeader: Bool { initialised && raft_state(raft) == Int32(RAFT_LEADER) }

    /// The leader as this node knows it.
    var leader: (id: UInt64, address: String)? {
        var id: raft_id = 0
        var address: UnsafePointer<CChar>?
        raft_leader(raft, &id, &address)
        guard id != 0, let address else { return nil }
        return (id, String(cString: address))
    }

    private func errorMessage(io: Bool = false) -> String {
        if io { return withUnsafeBytes(of: self.io.pointee.errmsg) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        return String(cString: raft_errmsg(raft))
    }

    // MARK: FSM

    /// Staggered by node id (up to +3/8): nodes apply the same entries, so with one threshold they all took
    /// their snapshot at the same index, and each snapshot stalls its node's loop for tens of ms (C-Raft
    /// closes its open segment: io_destroy). Both followers stalling at once stalls commits.
    private func setSnapshotThreshold(_ count: UInt32) {
        raft_set_snapshot_threshold(raft, count + UInt32(id % 4) * (count / 8))
    }

    func applyEntry(_ bytes: [UInt8]) -> Int32 {
        let command: Command
        do { command = try Command.decode(bytes) } catch {
            logger.error("cannot decode a committed entry of \(bytes.count) bytes: \(error)")
            return RAFT_MALFORMED
        }
        if case .checkpoint = command {
            // The leader found the cluster idle (see IdleCompaction): not a write, so not counted as one. The
            // entry names one database (C dqlite's format); every database's WAL is checkpointed.
            for name in vfs.databaseNames { checkpoint(name, force: true) }
            snapshotPacing.requestSnapshot()
            return 0
        }
        snapshotPacing.noteApplied(bytes: bytes.count)
        if entrySizes.note(entryBytes: bytes.count) {
            if let count = trailing.update(averageBytes: entrySizes.bytes) {
                logger.debug("snapshot trailing now \(count) entries (average entry \(Int(entrySizes.bytes)) bytes)")
                raft_set_snapshot_trailing(raft, count)
            }
            if let count = threshold.update(averageBytes: entrySizes.bytes) {
                logger.debug("snapshot threshold now \(count) entries (average entry \(Int(entrySizes.bytes)) bytes)")
                setSnapshotThreshold(count)
            }
        }
        switch command {
        case let .frames(database, pages):
            do {
                try ensureDatabase(database)
                try vfs.apply(database: database, pages)
            } catch {
                logger.error("cannot apply \(pages.pageNumbers.count) pages to \(database): \(error)")
                return RAFT_IOERR
            }
            logger.trace("applied \(pages.pageNumbers.count) pages to \(database)")
            maybeCheckpoint(database)
        case .open(let database):
            do { try ensureDatabase(database) } catch {
                logger.error("cannot create \(database): \(error)")
                return RAFT_IOERR
            }
        case .undo, .checkpoint:
            break
        }
        return 0
    }

    /// Appends a CHECKPOINT entry, on the leader once the cluster is idle (see `IdleCompaction`): every node
    /// that applies it checkpoints every database's WAL and takes the snapshot its pacing deferred.
    func proposeIdleCheckpoint() {
        guard isLeader, let database = vfs.databaseNames.first, let bytes = try? Command.checkpoint(database: database).encoded() else { return }
        let base = raft_malloc(bytes.count)!
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var buffer = raft_buffer(base: base, len: bytes.count)
        let request = UnsafeMutablePointer<raft_apply>.allocate(capacity: 1)
        request.initialize(to: raft_apply())
        if raft_apply(raft, request, &buffer, 1, { req, _, _ in req!.deallocate() }) != 0 {
            raft_free(base)
            request.deallocate()
        }
    }

    /// Creates `database` on this node the way a leader connection would (page 1 written locally), so that
    /// replicated frames land on the same main file everywhere.
    func ensureDatabase(_ name: String) throws(NodeError) {
        guard vfs.databases[name] == nil else { return }
        let c = try SQLiteConnection(vfs: vfs, database: name)
        c.close()
    }

    /// Every node checkpoints on its own once the WAL holds `checkpointThreshold` frames (C dqlite: 1000),
    /// so memory stays bounded. Only TRUNCATE checkpoints are safe with the replicating VFS, and only while no
    /// connection holds a wal-index lock (a reader's snapshot, a writer's transaction).
    func maybeCheckpoint(_ name: String) { checkpoint(name, force: false) }

    /// Checkpoints `name` once its WAL holds `checkpointThreshold` frames, or any frame when `force`.
    func checkpoint(_ name: String, force: Bool) {
        guard let db = vfs.databases[name], db.wal.frames.count >= (force ? 1 : checkpointThreshold), !db.heldForReplication,
              db.shm.shared.allSatisfy({ $0 == 0 }), db.shm.exclusive.allSatisfy({ $0 == 0 }) else { return }
        let connection: SQLiteConnection
        if let c = checkpointers[name] {
            connection = c
        } else {
            guard let c = try? SQLiteConnection(vfs: vfs, database: name) else { return }
            checkpointers[name] = c
            connection = c
        }
        var log: Int32 = 0, done: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(connection.db, nil, SQLITE_CHECKPOINT_TRUNCATE, &log, &done)
        logger.debug("checkpoint of \(name): \(done) of \(log) frames (rc \(rc))")
        // A busy database is tried again after the next entry. Any other failure means the WAL grows until it
        // is mended (a checkpoint past 1 GiB had failed that way, unseen at the debug level): said once a minute.
        if rc != SQLITE_OK && rc & 0xff != SQLITE_BUSY && rc & 0xff != SQLITE_LOCKED,
           checkpointFailureLogged[name].map({ $0.duration(to: .now) > .seconds(60) }) ?? true {
            checkpointFailureLogged[name] = .now
            let message = String(cString: sqlite3_errmsg(connection.db))
            logger.warning("checkpoint of \(name) failed (\(message), rc \(rc)): its WAL holds \(db.wal.frames.count) frames and grows")
        }
    }

    /// A write to disk failed: C-Raft cannot write again, so the node stops (see `DiskFailureGuard`).
    func diskFailed(_ what: String) {
        logger.critical("disk failure: \(what); stopping, since Raft cannot write again until the node restarts (and recovers from its data dir)")
        onDiskFailure(what)
    }

    static func diskFailedWithoutEngine(_ what: String) {
        let line = Array("dqlite-node: disk failure: \(what); stopping\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        fflush(nil)
        _exit(NodeSettings.diskFailureExitCode)
    }

    /// Loop thread, as C-Raft asks for a snapshot: the state to store, or nil while pacing defers it.
    func snapshotViewIfDue() -> SnapshotView? {
        guard snapshotPacing.shouldTakeSnapshot() else { return nil }
        snapshotStarted = .now
        let view = vfs.snapshotView()
        chooseSnapshotCompression(for: view)
        return view
    }

    /// With `auto`, whether the snapshot of `view` is compressed, from a sample of its pages. C-Raft stores no
    /// snapshot while it asks for one (nor installs one), and the pool thread that stores this one reads the
    /// setting only after uv_queue_work: set here, it applies to this one.
    private func chooseSnapshotCompression(for view: SnapshotView) {
        guard snapshotCompression == .auto, lz4, let ratio = SnapshotCompressionSample.ratio(of: view) else { return }
        let compress = ratio <= SnapshotCompressionSample.worthIt
        defer { sampledSnapshot = true }
        guard compress != compressingSnapshots || !sampledSnapshot else { return }
        compressingSnapshots = compress
        raft_uv_set_snapshot_compression(io, compress)
        metrics.snapshotCompressed.record(compress ? 1 : 0)
        let percent = Int((ratio * 100).rounded())
        logger.info("snapshots are \(compress ? "compressed" : "stored uncompressed") from now on: a sample of their pages compresses to \(percent)%")
    }

    /// The snapshot a leader sends is about the size of the last one taken or installed here.
    func noteSnapshotSize(_ bytes: Int, installed: Bool = false) {
        snapshotsStored += 1
        snapshotPacing.noteSnapshot(bytes: bytes, installed: installed)
        guard installTimeout.note(snapshotBytes: bytes) else { return }
        raft_set_install_snapshot_timeout(raft, installTimeout.milliseconds)
    }

    func restoreSnapshot(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let started = ContinuousClock.now
        do {
            try vfs.restore(snapshot: bytes)
            logger.info("installed a snapshot of \(bytes.count) bytes in \(started.duration(to: .now))")
            noteSnapshotSize(bytes.count, installed: true)
            return 0
        } catch {
            logger.error("refused a snapshot of \(bytes.count) bytes: \(error)")
            return RAFT_MALFORMED
        }
    }

    /// A new leader whose log ends in entries of earlier terms commits none of them (`RaftReceiveFilter`)
    /// until it has stored one of its own: a barrier, as Raft's leaders do at the start of their term.
    func appendEntryOfOwnTerm() {
        let term = self.term
        guard ownEntryTerm != term else { return }
        ownEntryTerm = term
        logger.debug("leading in term \(term) with entries of earlier terms uncommitted: appending a barrier")
        loop.later { [self] in barrierIfNeeded { _ in } }
    }

    // MARK: Close

    /// raft_close once nothing is in flight (C-Raft 0.15 crashes closing a leader with applies pending),
    /// then raft_uv_close; `done` runs on the loop thread when it is all over.
    func close(_ done: @escaping () -> Void) {
        for c in checkpointers.values { c.close() }
        checkpointers.removeAll()
        metricsSampler?.close()
        metricsSampler = nil
        idleCompaction?.close()
        idleCompaction = nil
        snapshotWriteback?.stop()
        snapshotWriteback = nil
        guard initialised else { return done() }
        closeDone = done
        raft_close(raft) { r in
            let engine = Unmanaged<RaftEngine>.fromOpaque(r!.pointee.data).takeUnretainedValue()
            raft_uv_close(engine.io)
            engine.initialised = false
            engine.closeDone?()
            engine.closeDone = nil
        }
    }

    private var closeDone: (() -> Void)?
}
