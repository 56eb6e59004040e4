import DqliteWire

/// The result of a statement that returns no rows.
public struct ExecResult: Sendable, Equatable {
    public var lastInsertID: Int64
    public var rowsAffected: Int64
}

/// A database opened on the leader, like one `database/sql` connection of go-dqlite's driver. Requests on a
/// connection are sequential (the protocol has no multiplexing); a new request first closes any result still
/// streaming on it.
///
/// Outside a transaction, an operation that failed in a way that certainly did not apply it (not leader, no
/// leader, connection refused, …) is retried on the new leader under `ClientConfig.retry`. Inside a
/// transaction nothing is retried: the transaction is lost with its connection and the error is thrown.
public actor Connection {
    public nonisolated let database: String
    private let client: DqliteClient
    private var node: NodeClient?
    private var dbID: UInt32 = 0
    /// Bumped on every reconnect; prepared statement ids from older generations are stale.
    private var generation = 0
    private var inTransaction = false
    /// The result still streaming on this connection, if any.
    private var cursor: UInt64?
    private var nextCursorID: UInt64 = 1
    private var prepared: [Int: (generation: Int, id: UInt32)] = [:]
    private var nextStatementToken = 1
    private var closed = false

    init(client: DqliteClient, database: String) {
        self.client = client
        self.database = database
    }

    /// The leader this connection currently talks to.
    public var leaderAddress: String? { node?.address }

    /// Whether BEGIN was run and neither COMMIT nor ROLLBACK since.
    public var isInTransaction: Bool { inTransaction }

    func connect() async throws(DqliteError) {
        try await run(retrying: true) { _ throws(DqliteError) in () }
    }

    // MARK: SQL

    /// Runs `sql` (several statements allowed; the result describes the last) with positional parameters.
    @discardableResult
    public func exec(_ sql: String, _ parameters: [Value] = []) async throws(DqliteError) -> ExecResult {
        let effect = TransactionEffect(sql: sql)
        return try await run(retrying: effect != .commitOrRollback, effect: effect) { n throws(DqliteError) in
            try await self.result(n.call(.execSQL(db: UInt64(self.dbID), sql: sql, parameters: parameters)), from: n)
        }
    }

    /// Runs one statement and streams its rows.
    public func query(_ sql: String, _ parameters: [Value] = []) async throws(DqliteError) -> Rows {
        try await run(retrying: true) { n throws(DqliteError) in
            try await self.rows(n.call(.querySQL(db: UInt64(self.dbID), sql: sql, parameters: parameters)), from: n)
        }
    }

    /// Runs one statement and returns every row.
    public func queryAll(_ sql: String, _ parameters: [Value] = []) async throws(DqliteError) -> (columns: [String], rows: [[Value]]) {
        let rows = try await query(sql, parameters)
        return (rows.columns, try await rows.collect())
    }

    // MARK: Prepared statements

    /// Prepares one statement. It is re-prepared transparently after a reconnect.
    public func prepare(_ sql: String) async throws(DqliteError) -> Statement {
        let token = nextStatementToken
        nextStatementToken += 1
        let count = try await run(retrying: true) { n throws(DqliteError) in try await self.prepareOnServer(sql, token: token, node: n) }
        return Statement(connection: self, sql: sql, token: token, parameterCount: count)
    }

    func exec(_ statement: Statement, _ parameters: [Value]) async throws(DqliteError) -> ExecResult {
        let effect = TransactionEffect(sql: statement.sql)
        return try await run(retrying: effect != .commitOrRollback, effect: effect) { n throws(DqliteError) in
            let id = try await self.statementID(statement, node: n)
            return try await self.result(n.call(.exec(db: self.dbID, statement: id, parameters: parameters)), from: n)
        }
    }

    func query(_ statement: Statement, _ parameters: [Value]) async throws(DqliteError) -> Rows {
        try await run(retrying: true) { n throws(DqliteError) in
            let id = try await self.statementID(statement, node: n)
            return try await self.rows(n.call(.query(db: self.dbID, statement: id, parameters: parameters)), from: n)
        }
    }

    func finalize(_ statement: Statement) async throws(DqliteError) {
        guard let entry = prepared.removeValue(forKey: statement.token), entry.generation == generation, let node else { return }
        try await finishCursor()
        guard case .empty = try await node.call(.finalize(db: dbID, statement: entry.id)) else {
            throw drop(.protocolError(address: node.address, reason: "expected EMPTY"))
        }
    }

    // MARK: Transactions

    public func begin() async throws(DqliteError) { try await exec("BEGIN") }
    public func commit() async throws(DqliteError) { try await exec("COMMIT") }
    public func rollback() async throws(DqliteError) { try await exec("ROLLBACK") }

    /// BEGIN, the body, COMMIT; ROLLBACK when the body throws. A COMMIT error whose outcome is unknown is
    /// thrown as it is (see `DqliteError.outcome`).
    public func transaction<T: Sendable>(_ body: @Sendable (Connection) async throws -> T) async throws -> T {
        try await begin()
        do {
            let value = try await body(self)
            try await commit()
            return value
        } catch {
            if inTransaction { try? await rollback() }
            throw error
        }
    }

    public func close() {
        closed = true
        node?.close()
        node = nil
        cursor = nil
    }

    // MARK: Rows streaming

    func nextBatch(_ id: UInt64) async throws(DqliteError) -> RowsBatch {
        guard cursor == id, let node else {
            throw .misuse("the result was closed (another request ran on its connection, or it was closed)")
        }
        let response: Response
        do {
            response = try await node.connection.receive(timeout: node.timeout)
        } catch {
            cursor = nil
            throw drop(error)
        }
        switch response {
        case .rows(let batch):
            if batch.isLast { cursor = nil }
            return batch
        case let .failure(code, message):
            cursor = nil
            throw .server(code: code, message: message)
        default:
            cursor = nil
            throw drop(.protocolError(address: node.address, reason: "expected ROWS"))
        }
    }

    func closeCursor(_ id: UInt64) async throws(DqliteError) {
        guard cursor == id else { return }
        try await finishCursor()
    }

    /// Stops a streaming result: INTERRUPT, then discard replies up to the EMPTY that ends it (the server may
    /// first send the rest of the rows).
    private func finishCursor() async throws(DqliteError) {
        guard cursor != nil, let node else { return }
        cursor = nil
        do throws(DqliteError) {
            try await node.connection.send(.interrupt(db: UInt64(dbID)), timeout: node.timeout)
            while true {
                switch try await node.connection.receive(timeout: node.timeout) {
                case .empty: return
                case .rows, .failure: continue
                default: throw .protocolError(address: node.address, reason: "expected EMPTY after INTERRUPT")
                }
            }
        } catch {
            throw drop(error)
        }
    }

    // MARK: Plumbing

    /// Runs `operation` on the leader connection, connecting first if needed, and retries per policy.
    private func run<T: Sendable>(retrying: Bool, effect: TransactionEffect = .none,
                                  _ operation: (NodeClient) async throws(DqliteError) -> T) async throws(DqliteError) -> T {
        guard !closed else { throw .misuse("the connection is closed") }
        let policy = client.config.retry
        let start = ContinuousClock.now
        var attempt = 1
        while true {
            do {
                try await finishCursor()
                let node = try await ensureConnected()
                let value = try await operation(node)
                switch effect {
                case .begin: inTransaction = true
                case .commitOrRollback: inTransaction = false
                case .none: break
                }
                return value
            } catch {
                // A transaction does not survive its connection, so nothing inside one is retried.
                let wasInTransaction = inTransaction
                if error.isRetryable { _ = drop(error) }
                guard retrying, !wasInTransaction, policy.shouldRetry(error, attempt: attempt, start: start) else { throw error }
                try? await Task.sleep(for: policy.backoff(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    private func ensureConnected() async throws(DqliteError) -> NodeClient {
        if let node { return node }
        let n = try await client.connectToLeader()
        do throws(DqliteError) {
            guard case .db(let id) = try await n.call(.open(name: database, flags: 0, vfs: "volatile")) else {
                throw .protocolError(address: n.address, reason: "expected DB")
            }
            node = n
            dbID = id
            generation += 1
            return n
        } catch {
            n.close()
            throw error
        }
    }

    /// Forgets a connection that failed in a way that may have broken it; a transaction on it is gone.
    private func drop(_ error: DqliteError) -> DqliteError {
        if let node {
            node.close()
            client.forgetLeader(node.address)
        }
        node = nil
        cursor = nil
        inTransaction = false
        return error
    }

    private func result(_ response: Response, from node: NodeClient) throws(DqliteError) -> ExecResult {
        guard case let .result(rowid, changes) = response else {
            throw drop(.protocolError(address: node.address, reason: "expected RESULT"))
        }
        return ExecResult(lastInsertID: Int64(bitPattern: rowid), rowsAffected: Int64(bitPattern: changes))
    }

    private func rows(_ response: Response, from node: NodeClient) throws(DqliteError) -> Rows {
        guard case .rows(let batch) = response else {
            throw drop(.protocolError(address: node.address, reason: "expected ROWS"))
        }
        let id = nextCursorID
        nextCursorID += 1
        if !batch.isLast { cursor = id }
        return Rows(connection: self, cursor: id, first: batch)
    }

    private func prepareOnServer(_ sql: String, token: Int, node: NodeClient) async throws(DqliteError) -> Int {
        guard case let .statement(_, id, count, _) = try await node.call(.prepare(db: UInt64(dbID), sql: sql, withTailOffset: false)) else {
            throw drop(.protocolError(address: node.address, reason: "expected STMT"))
        }
        prepared[token] = (generation, id)
        return Int(clamping: count)
    }

    private func statementID(_ statement: Statement, node: NodeClient) async throws(DqliteError) -> UInt32 {
        if let entry = prepared[statement.token], entry.generation == generation { return entry.id }
        _ = try await prepareOnServer(statement.sql, token: statement.token, node: node)
        return prepared[statement.token]!.id
    }
}

/// What a statement does to the connection's transaction state, read from its first keyword.
enum TransactionEffect: Equatable {
    case none, begin, commitOrRollback

    init(sql: String) {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == ";" || $0 == "\r" }).prefix(2)
        switch words.first?.uppercased() {
        case "BEGIN": self = .begin
        case "COMMIT", "END": self = .commitOrRollback
        case "ROLLBACK": self = words.dropFirst().first?.uppercased() == "TO" ? .none : .commitOrRollback
        default: self = .none
        }
    }
}
