import CRaft
import CSQLite
import DqliteWire

/// The result of running SQL on the leader.
public struct StatementResult: Sendable, Equatable {
    public var columns: [String] = []
    public var rows: [[Value]] = []
    public var lastInsertID: Int64 = 0
    public var rowsAffected: Int64 = 0
}

/// Runs SQL on the leader's connection, one statement after another; a statement that commits a write
/// transaction is replicated through Raft before the next one runs and before the caller hears back
/// (reference/dqlite.md §2.3).
final class WritePath {
    let engine: RaftEngine
    let connection: SQLiteConnection

    init(engine: RaftEngine, connection: SQLiteConnection) {
        self.engine = engine
        self.connection = connection
    }

    func run(_ sql: String, _ parameters: [Value], completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        runFrom(Array(sql.utf8) + [0], offset: 0, parameters, StatementResult(), completion)
    }

    private func runFrom(_ sql: [UInt8], offset: Int, _ parameters: [Value], _ previous: StatementResult,
                         _ completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        guard engine.isLeader else { return completion(.failure(.notLeader)) }
        let stmt: OpaquePointer?, next: Int
        do {
            (stmt, next) = try connection.prepare(sql, from: offset)
        } catch {
            return completion(.failure(error))
        }
        guard let stmt else { return completion(.success(previous)) }  // only whitespace or comments left
        let more = next < sql.count - 1
        executeAfterBarrier(stmt, parameters: offset == 0 ? parameters : [], finalize: true) { outcome in
            switch outcome {
            case .success(let r) where more: self.runFrom(sql, offset: next, [], r, completion)
            default: completion(outcome)
            }
        }
    }

    /// `execute` once this leader has applied everything committed before it, and, for a read-only
    /// statement outside a transaction that has written, once a quorum has confirmed it still leads.
    func executeAfterBarrier(_ stmt: OpaquePointer, parameters: [Value], finalize: Bool,
                             completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        let isRead = sqlite3_stmt_readonly(stmt) != 0
        let confirm: (@escaping (NodeError?) -> Void) -> Void =
            if isRead, let reads = engine.readConfirmation { reads.confirm } else { engine.barrierIfNeeded }
        confirm { error in
            if let error {
                if finalize { sqlite3_finalize(stmt) }
                return completion(.failure(error))
            }
            self.execute(stmt, parameters: parameters, finalize: finalize, completion: completion)
        }
    }

    /// Binds, steps `stmt` to the end collecting its rows, and replicates the transaction it committed, if
    /// any, before `completion`. A write that finds the write lock taken waits for it (up to the busy
    /// timeout) instead of failing at once.
    func execute(_ stmt: OpaquePointer, parameters: [Value], finalize: Bool, deadline: UInt64? = nil,
                 completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        func done(_ outcome: Result<StatementResult, NodeError>) {
            if finalize { sqlite3_finalize(stmt) } else { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
            completion(outcome)
        }
        guard engine.isLeader else { return done(.failure(.notLeader)) }
        var result = StatementResult()
        do {
            try connection.bind(stmt, parameters)
        } catch {
            return done(.failure(error))
        }
        result.columns = (0..<sqlite3_column_count(stmt)).map { String(cString: sqlite3_column_name(stmt, $0)) }
        // A write that starts a new transaction builds on the transactions still replicating (pipelining);
        // anything else sees committed data only.
        let speculate = sqlite3_stmt_readonly(stmt) == 0 && sqlite3_txn_state(connection.db, nil) == SQLITE_TXN_NONE
        let vfs = engine.vfs, database = connection.database
        while true {
            if speculate { vfs.beginSpeculation(database: database) }
            let rc = sqlite3_step(stmt)
            if speculate { vfs.endSpeculation(database: database) }
            if rc == SQLITE_ROW {
                result.rows.append(RowEncoding.row(stmt, connection))
                continue
            }
            if rc == SQLITE_BUSY, let queue = engine.busyQueue, engine.busyTimeoutMs > 0 {
                // Plain SQLITE_BUSY: another transaction holds the write lock. Wait for its release.
                let until = deadline ?? queue.now + UInt64(engine.busyTimeoutMs)
                if queue.now < until {
                    sqlite3_reset(stmt)
                    queue.park(connection.database, timeoutMs: UInt32(clamping: until - queue.now), retry: { [self] in
                        self.execute(stmt, parameters: parameters, finalize: finalize, deadline: until, completion: completion)
                    }, expire: {
                        done(.failure(.sqlite(SQLITE_BUSY, "database is locked")))
                    })
                    return
                }
            }
            if rc != SQLITE_DONE {
                let error = connection.error(rc)
                // A statement that failed may still have committed nothing; whatever was captured is dropped.
                if let t = engine.vfs.pollTransaction(database: connection.database) { engine.vfs.abort(database: connection.database, id: t.id) }
                return done(.failure(error))
            }
            break
        }
        result.lastInsertID = sqlite3_last_insert_rowid(connection.db)
        result.rowsAffected = Int64(sqlite3_changes(connection.db))
        guard let captured = engine.vfs.pollTransaction(database: connection.database) else { return done(.success(result)) }
        if finalize { sqlite3_finalize(stmt) } else { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
        replicate(captured, result, completion)
    }

    /// raft_apply of the captured pages; the FSM applies them on this node too before the callback fires.
    private func replicate(_ polled: PolledTransaction, _ result: StatementResult,
                           _ completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        let database = connection.database, id = polled.id
        let bytes: [UInt8]
        do {
            bytes = try Command.frames(database: database, pages: polled.pages).encoded()
        } catch {
            engine.vfs.abort(database: database, id: id)
            return completion(.failure(.invalid("\(error)")))
        }
        let base = raft_malloc(bytes.count)!
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var buffer = raft_buffer(base: base, len: bytes.count)
        let request = UnsafeMutablePointer<raft_apply>.allocate(capacity: 1)
        request.initialize(to: raft_apply())
        let context = ApplyContext(engine: engine, database: database, id: id) { status in
            switch status {
            case 0: completion(.success(result))
            case RAFT_LEADERSHIPLOST, RAFT_SHUTDOWN: completion(.failure(.leadershipLost))
            default: completion(.failure(.raft(status, String(cString: raft_strerror(status)))))
            }
        }
        request.pointee.data = Unmanaged.passRetained(context).toOpaque()
        engine.inFlight += 1
        let rc = raft_apply(engine.raft, request, &buffer, 1) { req, status, _ in
            let context = Unmanaged<ApplyContext>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            context.engine.inFlight -= 1
            if status != 0 { context.engine.vfs.abort(database: context.database, id: context.id) }
            context.done(status)
        }
        if rc != 0 {
            // Raft did not take the entry: the buffer and the request are still ours.
            raft_free(base)
            Unmanaged<ApplyContext>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            engine.inFlight -= 1
            engine.vfs.abort(database: database, id: id)
            completion(.failure(rc == RAFT_NOTLEADER ? .notLeader : .raft(rc, String(cString: raft_strerror(rc)))))
        }
    }
}

private final class ApplyContext {
    let engine: RaftEngine
    let database: String
    let id: UInt64
    let done: (Int32) -> Void

    init(engine: RaftEngine, database: String, id: UInt64, done: @escaping (Int32) -> Void) {
        self.engine = engine
        self.database = database
        self.id = id
        self.done = done
    }
}
