import CSQLite
import DqliteWire
import Foundation

/// A SQLite database file on this machine, through the system's SQLite: what backups are written as and
/// restores read from.
final class LocalSQLite {
    private let db: OpaquePointer

    init(path: String, readOnly: Bool) throws(ShellError) {
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ShellError("cannot open \(path): \(message)")
        }
        db = handle
    }

    deinit { sqlite3_close(db) }

    /// Every row of `sql`, with `parameters` bound (text only: names of tables).
    func rows(_ sql: String, _ parameters: [String] = []) throws(ShellError) -> [[Value]] {
        var rows: [[Value]] = []
        try each(sql, parameters) { rows.append($0) }
        return rows
    }

    /// Calls `body` with each row of `sql` as it is read (a table may not fit in memory twice).
    func each(_ sql: String, _ parameters: [String] = [], _ body: ([Value]) throws(ShellError) -> Void) throws(ShellError) {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw error(sql) }
        defer { sqlite3_finalize(stmt) }
        for (i, p) in parameters.enumerated() { sqlite3_bind_text(stmt, Int32(i + 1), p, -1, Self.transient) }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(sql) }
            try body((0..<sqlite3_column_count(stmt)).map { Self.value(stmt, $0) })
        }
    }

    func exec(_ sql: String) throws(ShellError) {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    private func error(_ sql: String) -> ShellError {
        ShellError("SQLite: \(String(cString: sqlite3_errmsg(db))) (in: \(sql.prefix(80)))")
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func value(_ stmt: OpaquePointer, _ i: Int32) -> Value {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(stmt, i))
        case SQLITE_FLOAT: return .float(sqlite3_column_double(stmt, i))
        case SQLITE_TEXT:
            let n = Int(sqlite3_column_bytes(stmt, i))
            guard n > 0, let p = sqlite3_column_text(stmt, i) else { return .text("") }
            return .text(String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(stmt, i))
            guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }
}

/// Quotes an SQL identifier ("name", with inner quotes doubled).
func quotedIdentifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
