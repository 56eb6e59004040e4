#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CUV
import CSQLite
import DqliteWire

/// What the gateway needs from the node (all on the loop thread).
protocol GatewayHost: AnyObject {
    var engine: RaftEngine { get }
    var vfs: ReplicatingVFS { get }
    var failureDomain: UInt64 { get }
    var weight: UInt64 { get set }
}

/// One client connection's requests, served as C dqlite serves them (reference/dqlite.md §1.5): strictly one
/// at a time (reading pauses until the reply is written), one database per connection, statements in a
/// per-connection registry.
final class Gateway {
    unowned let host: GatewayHost
    let connection: IncomingConnection
    let legacy: Bool
    private var database: WritePath?
    /// The Raft term in which this connection opened its database: once this node has stopped leading
    /// that term, the database is closed, as C dqlite closes leader connections on step-down.
    private var openedInTerm: UInt64 = 0
    private var statements: [UInt32: OpaquePointer] = [:]
    private var nextStatementID: UInt32 = 0
    private var closed = false
    /// A request is being served (possibly waiting for Raft or for the write lock): its statements and
    /// SQLite connection must outlive the client's disconnection until it completes.
    private var serving = false

    init(host: GatewayHost, connection: IncomingConnection, version: ProtocolVersion) {
        self.host = host
        self.connection = connection
        legacy = version == .legacy
        connection.maxBody = Int(WireLimits.defaultMaxMessageBytes)
        connection.onMessage = { [unowned self] header, body in self.handle(header, body) }
        connection.onClose = { [unowned self] in self.release() }
    }

    private func release() {
        guard !closed else { return }
        closed = true
        if !serving { cleanUp() }
    }

    private func cleanUp() {
        for s in statements.values { sqlite3_finalize(s) }
        statements.removeAll()
        if let database, database.engine.vfs.databases[database.connection.database]?.heldForReplication != true {
            database.connection.close()
        }
        database = nil
    }

    /// Requests that arrived while one was being served (a client sends the next one once it has the reply;
    /// only a client that pipelines gets here, and reading stops then until the queue is empty).
    private var inbox: [(MessageHeader, [UInt8])] = []
    private var draining = false

    func handle(_ header: MessageHeader, _ body: [UInt8]) {
        inbox.append((header, body))
        if serving || inbox.count > 1 { connection.pause() }
        drain()
    }

    /// Serves queued requests in order, one at a time (a request may wait for Raft; the next waits for it).
    private func drain() {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !serving && !closed && !inbox.isEmpty {
            let (header, body) = inbox.removeFirst()
            start(header, body)
        }
        if !serving && !closed && inbox.isEmpty { connection.resume() }
    }

    private func start(_ header: MessageHeader, _ body: [UInt8]) {
        guard let request = try? Request.decode(header: header, body: body) else {
            // C dqlite closes a connection whose request does not decode; so do we.
            return connection.close()
        }
        serving = true
        // A SERVERS reply is laid out in the format the CLUSTER request asked for.
        var clusterFormat = ClusterFormat.v1
        if case .cluster(let f) = request, let asked = ClusterFormat(rawValue: f) { clusterFormat = asked }
        let context = ResponseContext(clusterFormat: clusterFormat, legacy: legacy)
        let received = ContinuousClock.now
        let served = { [self] (failure: UInt64?) -> Bool in
            self.serving = false
            self.host.engine.metrics.served(request.type, nanoseconds: (ContinuousClock.now - received).nanoseconds, errorCode: failure)
            if self.closed { self.cleanUp() }
            return !self.closed
        }
        serve(request, { [self] responses in
            var failure: UInt64?
            for r in responses { if case .failure(let code, _) = r { failure = code } }
            guard served(failure) else { return }
            var bytes: [UInt8] = []
            for r in responses {
                // Every reply is built here from valid values; one that cannot be encoded is a bug, and the
                // client must not wait for it forever.
                guard let b = try? r.encoded(context: context) else { return self.connection.close() }
                if bytes.isEmpty { bytes = b } else { bytes += b }
            }
            self.sent(self.connection.write(bytes))
        }, pieces: { [self] pieces in
            guard served(nil) else { return }
            self.sent(self.connection.write(pieces: pieces))
        })
    }

    /// A reply was queued: the next request is served now, or once a long reply is out (a slow reader, a
    /// large result), reading no more until then.
    private func sent(_ queuedFew: Bool) {
        if queuedFew {
            drain()
        } else {
            connection.pause()
            connection.onWritten = { [weak self] in self?.drain() }
        }
    }

    private func failure(_ code: UInt64, _ message: String) -> [Response] { [.failure(code: code, message: message)] }
    private func failure(_ e: NodeError) -> [Response] { [.failure(code: e.code, message: e.description)] }

    /// `reply` sends responses; `pieces` sends a message already encoded, in pieces (a DUMP's reply).
    private func serve(_ request: Request, _ reply: @escaping ([Response]) -> Void, pieces: ([[UInt8]]) -> Void) {
        let engine = host.engine
        switch request {
        case .leader:
            let l = engine.leader
            reply([.server(id: l?.id ?? 0, address: l?.address ?? "")])
        case .client:
            reply([.welcome(heartbeatTimeout: 15000)])
        case .heartbeat:
            // Node to node (the obsolete HEARTBEAT put to a private use): a leader confirming it still leads,
            // before a read, asks each voter for its Raft term and how long it will still refuse votes;
            // METADATA carries both (see TermProbes and ReadLease).
            guard engine.initialised else { return reply([.metadata(failureDomain: 0, weight: 0)]) }
            let nowMs = uv_hrtime() / 1_000_000
            let sticky = ReadLease.promiseMs(stickinessMs: ReadLease.followerStickiness(engine.raft, nowMs: nowMs),
                                             electionTimeoutMs: engine.raft.pointee.election_timeout)
            // Kept even if this node learns sooner that its leader died (LeaderWatch): it neither forgets
            // the leader nor stands for election before nowMs + sticky.
            if sticky > 0 { engine.leaderWatch?.notePromise(until: nowMs + sticky) }
            // The clock reading lets the leader measure this node's clock rate against its own (ClockAgreement).
            reply([.termProbe(term: engine.raft.pointee.current_term, stickyMs: sticky, clockMs: nowMs)])
        case .connect:
            reply(failure(ErrorCode.dqliteParse, "unrecognized request type"))
        case .open(let name, _, _):
            guard database == nil else { return reply(failure(ErrorCode.sqliteBusy, "a database for this connection is already open")) }
            guard engine.isLeader else { return reply(failure(.notLeader)) }
            do {
                database = WritePath(engine: engine, connection: try SQLiteConnection(vfs: host.vfs, database: name))
                openedInTerm = engine.term
                reply([.db(id: 0)])
            } catch {
                reply(failure(error))
            }
        case let .prepare(db, sql, withTail):
            guard let w = lookup(db, reply) else { return }
            // As C dqlite does: a new leader first applies what earlier leaders committed, or the statement
            // would be prepared against an older schema ("no such table").
            engine.barrierIfNeeded { [weak self] error in
                guard let self else { return }
                if let error { return reply(failure(error)) }
                let bytes = Array(sql.utf8) + [0]
                do throws(NodeError) {
                    let (stmt, next) = try w.connection.prepare(bytes, from: 0)
                    guard let stmt else { return reply(failure(0, "empty statement")) }
                    if !withTail && Self.hasTail(bytes, after: next) {
                        sqlite3_finalize(stmt)
                        return reply(failure(ErrorCode.sqliteError, "nonempty statement tail"))
                    }
                    let id = nextStatementID
                    nextStatementID += 1
                    statements[id] = stmt
                    reply([.statement(db: 0, id: id, parameterCount: UInt64(sqlite3_bind_parameter_count(stmt)),
                                      tailOffset: withTail ? UInt64(next) : nil)])
                } catch {
                    reply(failure(error))
                }
            }
        case let .exec(db, id, params), let .query(db, id, params):
            guard let w = lookup(UInt64(db), reply) else { return }
            guard let stmt = statements[id] else { return reply(failure(ErrorCode.sqliteNotFound, "no statement with the given id")) }
            let isQuery = if case .query = request { true } else { false }
            w.executeAfterBarrier(stmt, parameters: params, finalize: false) { [weak self] outcome in
                self?.respond(outcome, rows: isQuery, reply)
            }
        case let .finalize(db, id):
            guard lookup(UInt64(db), reply) != nil else { return }
            guard let stmt = statements.removeValue(forKey: id) else { return reply(failure(ErrorCode.sqliteNotFound, "no statement with the given id")) }
            sqlite3_finalize(stmt)
            reply([.empty])
        case let .execSQL(db, sql, params):
            guard let w = lookup(db, reply) else { return }
            w.run(sql, params) { [weak self] outcome in self?.respond(outcome, rows: false, reply) }
        case let .querySQL(db, sql, params):
            guard let w = lookup(db, reply) else { return }
            let bytes = Array(sql.utf8) + [0]
            // Prepared after the barrier, as PREPARE and EXEC_SQL are: a leader just elected (after a restart of
            // every node, say) has not applied earlier terms' entries yet, and a query prepared then failed
            // with "no such table" (a flaky NodeProcessTests run found it).
            engine.barrierIfNeeded { [weak self] error in
                guard let self else { return }
                if let error { return reply(failure(error)) }
                do throws(NodeError) {
                    let (stmt, next) = try w.connection.checkOut(bytes, from: 0)
                    guard let stmt else { return reply(failure(0, "empty statement")) }
                    if Self.hasTail(bytes, after: next) {
                        sqlite3_finalize(stmt)
                        return reply(failure(ErrorCode.sqliteError, "nonempty statement tail"))
                    }
                    w.executeAfterBarrier(stmt, parameters: params, finalize: false) { [weak self, connection = w.connection] outcome in
                        connection.checkIn(stmt, bytes, from: 0, next: next)
                        self?.respond(outcome, rows: true, reply)
                    }
                } catch {
                    reply(failure(error))
                }
            }
        case .interrupt:
            // Results are written whole before the next request is read, so there is nothing left to stop.
            reply([.empty])
        case .cluster(let format):
            guard let f = ClusterFormat(rawValue: format) else { return reply(failure(ErrorCode.dqliteParse, "unrecognized cluster format")) }
            reply([.servers(engine.configuration.map { NodeInfo(id: $0.id, address: $0.address, rawRole: f == .v1 ? $0.role.rawValue : nil) })])
        case .describe(let format):
            guard format == 0 else { return reply(failure(ErrorCode.dqliteParse, "bad format version")) }
            reply([.metadata(failureDomain: host.failureDomain, weight: host.weight)])
        case .weight(let w):
            host.weight = w
            reply([.empty])
        case .dump(let name):
            // This database only: a copy of every database had made a DUMP of a small one cost a big one's.
            // Sent from the database's own pages (see FilesReplyPieces).
            guard let files = host.vfs.dumpFiles(of: name) else {
                return reply(failure(ErrorCode.dqliteNotFound, "database not found"))
            }
            guard let message = try? FilesReplyPieces.pieces(files) else {
                return reply(failure(ErrorCode.sqliteTooBig, "database too big for one message"))
            }
            pieces(message)
        case let .add(id, address):
            engine.change(.add(id, address)) { reply($0.map { [.failure(code: $0.code, message: $0.description)] } ?? [.empty]) }
        case let .assign(id, role):
            let dqliteRole = role.flatMap(NodeRole.init(rawValue:)) ?? .voter
            engine.change(.assign(id, dqliteRole)) { reply($0.map { [.failure(code: $0.code, message: $0.description)] } ?? [.empty]) }
        case .remove(let id):
            engine.change(.remove(id)) { reply($0.map { [.failure(code: $0.code, message: $0.description)] } ?? [.empty]) }
        case .transfer(let id):
            engine.transfer(to: id) { reply($0.map { [.failure(code: $0.code, message: $0.description)] } ?? [.empty]) }
        }
    }

    /// Whether NUL-terminated `sql` holds more than blanks and semicolons after offset `next` (C dqlite
    /// refuses a second statement where one is expected: "nonempty statement tail").
    private static func hasTail(_ sql: [UInt8], after next: Int) -> Bool {
        next < sql.count - 1 && !sql[next..<(sql.count - 1)].allSatisfy { $0 == 32 || $0 == 10 || $0 == 9 || $0 == 13 || $0 == 59 }
    }

    private func lookup(_ db: UInt64, _ reply: ([Response]) -> Void) -> WritePath? {
        guard db == 0, let w = database else {
            reply(failure(ErrorCode.sqliteNotFound, "no database opened"))
            return nil
        }
        guard host.engine.isLeader, host.engine.term == openedInTerm else {
            // Leadership was lost since OPEN: like C dqlite, drop the database (and its statements); this
            // and later requests get "no database opened", and the client reconnects to the new leader.
            for s in statements.values { sqlite3_finalize(s) }
            statements.removeAll()
            w.connection.close()
            database = nil
            reply(failure(ErrorCode.sqliteNotFound, "no database opened"))
            return nil
        }
        return w
    }

    private func respond(_ outcome: Result<StatementResult, NodeError>, rows: Bool, _ reply: ([Response]) -> Void) {
        switch outcome {
        case .failure(let e):
            reply(failure(e))
        case .success(let r) where rows:
            reply(RowEncoding.batches(columns: r.columns, rows: r.rows).map { .rows($0) })
        case .success(let r):
            reply([.result(lastInsertID: UInt64(bitPattern: r.lastInsertID), rowsAffected: UInt64(bitPattern: r.rowsAffected))])
        }
    }
}
