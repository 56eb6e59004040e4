import CSQLite
import DqliteWire

/// A SQLite connection on the replicating VFS, configured as C dqlite configures its connections: 4 KiB
/// pages, WAL, no syncs (durability is the Raft log), no automatic checkpoints, none on close, foreign keys
/// on, extended result codes, no ATTACH.
final class SQLiteConnection {
    let db: OpaquePointer
    let database: String
    private var closed = false

    init(vfs: ReplicatingVFS, database: String) throws(NodeError) {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(database, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs.name)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw .sqlite(rc, "cannot open \(database): \(message)")
        }
        db = handle
        self.database = database
        sqlite3_extended_result_codes(db, 1)
        _ = dqs_db_config_int(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0)
        for pragma in ["PRAGMA page_size=4096", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=OFF",
                       "PRAGMA wal_autocheckpoint=0", "PRAGMA foreign_keys=1"] {
            let rc = sqlite3_exec(db, pragma, nil, nil, nil)
            guard rc == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(db))
                sqlite3_close_v2(db)
                throw .sqlite(rc, "\(pragma): \(message)")
            }
        }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        for entry in statementCache.values { sqlite3_finalize(entry.stmt) }
        statementCache.removeAll()
        sqlite3_close_v2(db)
    }

    private struct StatementKey: Hashable {
        let sql: [UInt8]
        let offset: Int

        /// The text's bytes in one block: an array of bytes hashes element by element otherwise, which was
        /// 2% of a node's time serving point reads.
        func hash(into hasher: inout Hasher) {
            sql.withUnsafeBytes { hasher.combine(bytes: $0) }
            hasher.combine(offset)
        }
    }
    /// Statements of recent SQL texts, kept (reset) after they ran: clients such as go-dqlite send the SQL
    /// with every EXEC_SQL and QUERY_SQL, and preparing it (parse, plan) was a third of a point read's cost.
    /// A statement is taken out while it runs, so no two requests share one.
    private var statementCache: [StatementKey: (stmt: OpaquePointer, next: Int, used: UInt64)] = [:]
    private var uses: UInt64 = 0
    static let cachedStatements = 16

    /// `prepare`, or an idle statement prepared before from the same text. Give it back with `checkIn`.
    func checkOut(_ sql: [UInt8], from offset: Int) throws(NodeError) -> (OpaquePointer?, Int) {
        if let hit = statementCache.removeValue(forKey: StatementKey(sql: sql, offset: offset)) { return (hit.stmt, hit.next) }
        return try prepare(sql, from: offset)
    }

    /// Resets `stmt` (from `checkOut` of `sql` at `offset`) and keeps it for the next request with that text;
    /// the least recently used statement beyond `cachedStatements` is finalized.
    func checkIn(_ stmt: OpaquePointer, _ sql: [UInt8], from offset: Int, next: Int) {
        guard !closed else { sqlite3_finalize(stmt); return }
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        uses += 1
        if let old = statementCache.updateValue((stmt, next, uses), forKey: StatementKey(sql: sql, offset: offset)), old.stmt != stmt {
            sqlite3_finalize(old.stmt)
        }
        if statementCache.count > Self.cachedStatements, let oldest = statementCache.min(by: { $0.value.used < $1.value.used }) {
            statementCache.removeValue(forKey: oldest.key)
            sqlite3_finalize(oldest.value.stmt)
        }
    }

    var errorMessage: String { String(cString: sqlite3_errmsg(db)) }

    func error(_ rc: Int32) -> NodeError { .sqlite(sqlite3_extended_errcode(db) != 0 ? sqlite3_extended_errcode(db) : rc, errorMessage) }

    /// Prepares the first statement of `sql`; returns it (nil for an empty statement) and the byte offset of
    /// the rest.
    func prepare(_ sql: [UInt8], from offset: Int) throws(NodeError) -> (OpaquePointer?, Int) {
        var stmt: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let rc = sql.withUnsafeBufferPointer { buf -> Int32 in
            let base = UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self)
            let r = sqlite3_prepare_v2(db, base + offset, Int32(buf.count - offset), &stmt, &tail)
            if let tail { tailOffset = tail - base }
            return r
        }
        guard rc == SQLITE_OK else { throw error(rc) }
        return (stmt, tailOffset)
    }
    private var tailOffset = 0

    /// Binds positional parameters (dqlite sends them in order; fewer than the statement has leave NULLs).
    func bind(_ stmt: OpaquePointer, _ values: [Value]) throws(NodeError) {
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch v {
            case .integer(let x), .unixTime(let x): rc = sqlite3_bind_int64(stmt, index, x)
            case .float(let x): rc = sqlite3_bind_double(stmt, index, x)
            case .text(let s), .iso8601(let s): rc = sqlite3_bind_text(stmt, index, s, -1, dqs_transient())
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), dqs_transient()) }
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .boolean(let b): rc = sqlite3_bind_int64(stmt, index, b ? 1 : 0)
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
    }

    /// The current row as protocol values (types from the stored values; dqlite's declared-type mapping is
    /// applied by the gateway).
    func row(_ stmt: OpaquePointer) -> [Value] {
        (0..<sqlite3_column_count(stmt)).map { i in
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_INTEGER: .integer(sqlite3_column_int64(stmt, i))
            case SQLITE_FLOAT: .float(sqlite3_column_double(stmt, i))
            case SQLITE_TEXT: .text(String(cString: sqlite3_column_text(stmt, i)))
            case SQLITE_BLOB:
                .blob([UInt8](UnsafeRawBufferPointer(start: sqlite3_column_blob(stmt, i), count: Int(sqlite3_column_bytes(stmt, i)))))
            default: .null
            }
        }
    }
}
