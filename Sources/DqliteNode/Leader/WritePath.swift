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
        // The barrier comes before preparing: a new leader must first apply what earlier leaders committed,
        // or the statement is prepared against an older schema ("no such table").
        engine.barrierIfNeeded { [self] error in
            if let error { return completion(.failure(error)) }
            let stmt: OpaquePointer?, next: Int
            do throws(NodeError) {
                (stmt, next) = try connection.checkOut(sql, from: offset)
            } catch {
                return completion(.failure(error))
            }
            guard let stmt else { return completion(.success(previous)) }  // only whitespace or comments left
            let more = next < sql.count - 1
            executeAfterBarrier(stmt, parameters: offset == 0 ? parameters : [], finalize: false) { [connection] outcome in
                connection.checkIn(stmt, sql, from: offset, next: next)
                switch outcome {
                case .success(let r) where more: self.runFrom(sql, offset: next, [], r, completion)
                default: completion(outcome)
                }
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
        // A write that starts a new transaction builds on the transactions still replicating (pipelining);
        // anything else sees committed data only.
        // The holder of the write lock keeps the view its transaction started from (see beginSpeculation).
        let state = sqlite3_txn_state(connection.db, nil)
        let holder = state == SQLITE_TXN_WRITE
        let speculate = holder || sqlite3_stmt_readonly(stmt) == 0 && state == SQLITE_TXN_NONE
        let vfs = engine.vfs, database = connection.database
        var sawReplicating = false
        /// Answers now, or, when the statement saw transactions still replicating, once the last of them has
        /// committed (and with "leadership lost", outcome unknown, when it failed instead).
        func answerOnceSettled(_ outcome: Result<StatementResult, NodeError>) {
            guard sawReplicating, let last = vfs.lastReplicatingTransaction(database: database) else { return done(outcome) }
            engine.commits.after(transaction: last) { status in done(status == 0 ? outcome : .failure(.leadershipLost)) }
        }
        while true {
            if speculate { sawReplicating = vfs.beginSpeculation(database: database, holdsWriteLock: holder) || sawReplicating }
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
                // An error can come from replicating state too (a UNIQUE constraint on a row still in flight).
                return answerOnceSettled(.failure(error))
            }
            break
        }
        // Named after stepping: a statement prepared before a schema change is prepared again by its first
        // step, and may have gained or lost columns (ALTER TABLE under a kept or client-prepared statement).
        result.columns = (0..<sqlite3_column_count(stmt)).map { String(cString: sqlite3_column_name(stmt, $0)) }
        result.lastInsertID = sqlite3_last_insert_rowid(connection.db)
        result.rowsAffected = Int64(sqlite3_changes(connection.db))
        guard let captured = engine.vfs.pollTransaction(database: connection.database) else {
            // Nothing to replicate, but the statement ran on transactions still replicating (a write that
            // changed no byte, e.g. setting a value it already has; a COMMIT of a transaction that only read
            // there): its result holds only if they commit. Answering at once let a client hear "done" for a
            // write whose effect then vanished with a failed entry (found by the chaos bed, register-faults).
            return answerOnceSettled(.success(result))
        }
        if finalize { sqlite3_finalize(stmt) } else { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
        replicate(captured, result, completion)
    }

    /// Sends the transaction to Raft (grouped with the others of this loop turn); the FSM applies it on this
    /// node too before `completion`.
    private func replicate(_ polled: PolledTransaction, _ result: StatementResult,
                           _ completion: @escaping (Result<StatementResult, NodeError>) -> Void) {
        if engine.unsafeAckBeforeCommit {
            // The deliberate bug of the chaos gate's expect-fail scenarios: the client hears "committed"
            // while readers cannot see the transaction yet (and it may never commit).
            engine.commits.submit(database: connection.database, polled) { _ in }
            return completion(.success(result))
        }
        // With an apply timeout, the client hears "commit timed out" (outcome unknown) at its deadline, and
        // Raft's answer, when it comes, goes to no one.
        var answered = false
        let deadlines = engine.applyDeadlines
        let token = deadlines?.start {
            answered = true
            completion(.failure(.applyTimeout(deadlines?.timeoutMs ?? 0)))
        }
        engine.commits.submit(database: connection.database, polled) { status in
            if let token { deadlines?.settle(token) }
            guard !answered else { return }
            answered = true
            switch status {
            case 0: completion(.success(result))
            case RAFT_NOTLEADER: completion(.failure(.notLeader))
            case RAFT_LEADERSHIPLOST, RAFT_SHUTDOWN: completion(.failure(.leadershipLost))
            default: completion(.failure(.raft(status, String(cString: raft_strerror(status)))))
            }
        }
    }
}
