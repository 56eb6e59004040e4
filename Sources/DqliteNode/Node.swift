#if canImport(Glibc)
import Glibc
#endif
import CSQLite
import CUV
import DqliteClient
import DqliteWire
import Synchronization

/// A dqlite node: Raft (C-Raft over libuv), the replicating VFS and SQLite, owned by one loop thread.
/// Public methods may be called from any thread; they hop onto the loop.
///
/// Still missing for issue 3: the shared-port listener (peers and clients), the wire-protocol gateway,
/// membership requests, linearizable-read barriers, checkpoints and the `dqlite-node` executable.
public final class Node: @unchecked Sendable, GatewayHost {
    // @unchecked: `engine`, `vfs` and `leaders` are created and used only on `loop`'s thread.
    public let id: UInt64
    public let address: String
    public let dir: String
    private let loop: UVLoop
    private var vfsStorage: ReplicatingVFS?
    private var engineStorage: RaftEngine?
    var vfs: ReplicatingVFS { vfsStorage! }
    var engine: RaftEngine { engineStorage! }
    /// Reported by DESCRIBE; the weight can be changed by WEIGHT (in memory only, as in dqlite).
    public let failureDomain: UInt64
    var weight: UInt64 = 0
    private var gateways: [ObjectIdentifier: Gateway] = [:]
    private var leaders: [String: WritePath] = [:]
    private var listener: Listener!
    private let stopped = Mutex(false)

    /// Starts the node: its loop thread, the listener on `address`, then Raft from `dir`. When the dir holds
    /// no state yet, `bootstrap` lists the first configuration's voters (ids and addresses; empty: join later).
    public init(id: UInt64, address: String, dir: String, bootstrap: [(UInt64, String)], settings: NodeSettings = NodeSettings(),
                failureDomain: UInt64 = 0) async throws(NodeError) {
        self.id = id
        self.failureDomain = failureDomain
        self.address = address
        self.dir = dir
        loop = try UVLoop()
        // A restarted voter forgot whom it followed, so it could vote at once: it first waits out the longest
        // read lease its earlier answers may have granted (see ReadLease), counted from now. Checking and
        // loading its data count towards it (seconds, for a big database, that had been added to the wait):
        // the rest is waited once Raft has started, on the loop thread, which handles no Raft message or
        // timer (so casts no vote and starts no election) until then.
        let votesFrom: ContinuousClock.Instant? = !settings.staleReads && ReadLease.hasRaftState(dir: dir)
            ? .now + .milliseconds(ReadLease.restartDelayMs(electionTimeoutMs: settings.electionTimeoutMs)) : nil
        let node = self
        try await loop.run { () throws(NodeError) in
            do {
                node.vfsStorage = try ReplicatingVFS(name: "dqlite-swift-\(id)-\(UInt32.random(in: 0...UInt32.max))")
            } catch {
                throw .system("\(error)")
            }
            node.engineStorage = RaftEngine(id: id, address: address, loop: node.loop, vfs: node.vfs)
            let queue = BusyQueue(loop: node.loop)
            node.engine.busyQueue = queue
            node.engine.busyTimeoutMs = settings.busyTimeoutMs
            if settings.applyTimeoutMs > 0 { node.engine.applyDeadlines = ApplyDeadlines(loop: node.loop, timeoutMs: settings.applyTimeoutMs) }
            node.engine.unsafeAckBeforeCommit = settings.unsafeAckBeforeCommit
            if !settings.staleReads {
                node.engine.readConfirmation = ReadConfirmation(engine: node.engine, probes: TermProbes(timeout: .milliseconds(Int(settings.electionTimeoutMs)), tls: settings.tls),
                                                                checkClocks: !settings.unsafeLeaseAnyClock)
            }
            node.vfs.onWriteLockReleased = { [unowned queue] database in queue.released(database) }
            node.listener = Listener(loop: node.loop.loop, transport: node.engine.transport)
            node.listener.tls = settings.tls
            node.engine.transport.tls = settings.tls
            node.listener.metrics = node.engine.metrics
            node.listener.isPeer = { [unowned node] id, address in
                let members = node.engine.configuration
                return members.isEmpty || members.contains { $0.id == id && $0.address == address }
            }
            node.listener.onClient = { [unowned node] connection, version, header, body in
                let g = Gateway(host: node, connection: connection, version: version)
                let key = ObjectIdentifier(connection)
                node.gateways[key] = g
                let previous = connection.onClose
                connection.onClose = { [unowned node] in
                    previous?()
                    node.gateways.removeValue(forKey: key)
                }
                g.handle(header, body)
            }
            try node.listener.listen(on: address)
            do throws(NodeError) {
                try node.engine.start(dir: dir, bootstrap: bootstrap, settings: settings)
            } catch {
                node.listener.close()
                throw error
            }
            if let votesFrom {
                let left = ContinuousClock.now.duration(to: votesFrom)
                if left > .zero { usleep(UInt32(left.components.seconds) * 1_000_000 + UInt32(left.components.attoseconds / 1_000_000_000_000)) }
            }
            if settings.fastFailover {
                node.engine.leaderWatch = LeaderWatch(engine: node.engine, heartbeatMs: settings.heartbeatTimeoutMs,
                                                      electionTimeoutMs: settings.electionTimeoutMs)
            }
        }
    }

    /// Offline recovery after the loss of a majority: writes `members` (id, address, role) as the new
    /// configuration into the Raft log in `dir`. The node must not be running; run this on the survivor with
    /// the most recent log, start it, and let the others join again (or copy its dir to them).
    public static func recover(id: UInt64, dir: String, members: [(UInt64, String, NodeRole)]) async throws(NodeError) {
        guard let me = members.first(where: { $0.0 == id }) else { throw .invalid("node \(id) is not in the new configuration") }
        guard members.contains(where: { $0.2 == .voter }) else { throw .invalid("the new configuration has no voter") }
        let loop = try UVLoop()
        let vfs: ReplicatingVFS
        do { vfs = try ReplicatingVFS(name: "dqlite-recover-\(id)-\(UInt32.random(in: 0...UInt32.max))") } catch { throw .system("\(error)") }
        let engine = RaftEngine(id: id, address: me.1, loop: loop, vfs: vfs)
        let box = UncheckedBox((engine, vfs))
        let outcome: NodeError? = await withCheckedContinuation { c in
            loop.submit {
                let (engine, _) = box.value
                do throws(NodeError) {
                    try engine.recover(dir: dir, members: members)
                    engine.close { c.resume(returning: nil) }
                } catch {
                    engine.close { c.resume(returning: error) }
                }
            }
        }
        loop.stop {}
        if let outcome { throw outcome }
    }

    /// Whether this node is the Raft leader now.
    public var isLeader: Bool {
        get async { (try? await loop.run { () throws(NodeError) in self.engine.isLeader }) ?? false }
    }

    /// Waits until this node leads, up to `timeout`.
    public func waitUntilLeader(timeout: Duration) async throws(NodeError) {
        let deadline = ContinuousClock.now + timeout
        while !(await isLeader) {
            guard ContinuousClock.now < deadline else { throw .notLeader }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs `sql` (one or more statements; parameters bind to the first) on `database` as the leader,
    /// replicating every transaction it commits.
    public func execute(database: String, sql: String, parameters: [Value] = []) async throws(NodeError) -> StatementResult {
        let result: Result<StatementResult, NodeError> = await withCheckedContinuation { c in
            loop.submit {
                do throws(NodeError) {
                    try self.writePath(database).run(sql, parameters) { c.resume(returning: $0) }
                } catch {
                    c.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs a read on this node's own copy of `database`, leader or not (it may lag the leader): for tests,
    /// DUMP-like comparisons and stale reads.
    public func readLocal(database: String, sql: String) async throws(NodeError) -> [[Value]] {
        try await loop.run { () throws(NodeError) in
            guard self.vfs.databases[database] != nil else { return [] }
            let c = try SQLiteConnection(vfs: self.vfs, database: database)
            defer { c.close() }
            var rows: [[Value]] = []
            let (stmt, _) = try c.prepare(Array(sql.utf8) + [0], from: 0)
            guard let stmt else { return [] }
            defer { sqlite3_finalize(stmt) }
            while true {
                let rc = sqlite3_step(stmt)
                if rc == SQLITE_ROW { rows.append(c.row(stmt)); continue }
                guard rc == SQLITE_DONE else { throw c.error(rc) }
                return rows
            }
        }
    }

    /// Frames in this node's WAL for `database` (for tests of checkpointing).
    func walFrameCount(database: String) async throws(NodeError) -> Int {
        try await loop.run { () throws(NodeError) in self.vfs.databases[database]?.wal.frames.count ?? 0 }
    }

    /// The leader as this node knows it.
    public var leader: (id: UInt64, address: String)? {
        get async {
            let l = try? await loop.run { () throws(NodeError) -> LeaderInfo? in self.engine.leader.map { LeaderInfo(id: $0.id, address: $0.address) } }
            return (l ?? nil).map { ($0.id, $0.address) }
        }
    }

    private func writePath(_ database: String) throws(NodeError) -> WritePath {
        if let w = leaders[database] { return w }
        guard engine.isLeader else { throw .notLeader }
        let w = WritePath(engine: engine, connection: try SQLiteConnection(vfs: vfs, database: database))
        leaders[database] = w
        return w
    }

    /// When leading, transfers leadership to another voter (the first step of SIGTERM). New requests are
    /// turned away first (clients retry them on the next leader) and what is in flight commits, so that no
    /// write is answered "leadership lost" (an unknown outcome) because of a planned stop.
    public func handOverLeadership() async {
        guard await isLeader else { return }
        let started = (try? await loop.run { () throws(NodeError) -> Bool in
            guard self.engine.isLeader, self.engine.configuration.filter({ $0.role == .voter }).count > 1 else { return false }
            self.engine.handingOver = true
            return true
        }) ?? false
        guard started else { return }
        await waitForInFlightApplies(upTo: .seconds(2))
        let _: NodeError? = await withCheckedContinuation { c in
            loop.submit {
                self.engine.transfer(to: 0) { error in
                    self.engine.handingOver = false
                    c.resume(returning: error)
                }
            }
        }
    }

    /// Returns once no Raft apply of this node is in flight, or after `limit`.
    private func waitForInFlightApplies(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let busy = (try? await loop.run { () throws(NodeError) in self.engine.inFlight > 0 }) ?? false
            if !busy { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Stops Raft (after in-flight applies finish) and the loop thread. Idempotent.
    public func stop() async {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        // First stop taking work: no new client requests, no waiting writers, no new applies.
        try? await loop.run { () throws(NodeError) in
            self.engine.stopping = true
            self.listener.close()
            self.engine.leaderWatch?.close()
            self.engine.busyQueue?.close()
            self.engine.applyDeadlines?.close()
        }
        // Then let in-flight applies finish: C-Raft 0.15 crashes closing a leader with applies pending.
        await waitForInFlightApplies(upTo: .seconds(5))
        let loop = self.loop
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            loop.submit {
                for w in self.leaders.values { w.connection.close() }
                self.leaders.removeAll()
                self.engine.close { c.resume() }
            }
        }
        loop.stop {}
    }
}

struct LeaderInfo: Sendable {
    let id: UInt64
    let address: String
}

/// Hands loop-thread objects to a closure that runs on the loop thread.
struct UncheckedBox<T>: @unchecked Sendable {
    // @unchecked: the value is created on one thread and then used only on the loop thread.
    let value: T
    init(_ value: T) { self.value = value }
}
