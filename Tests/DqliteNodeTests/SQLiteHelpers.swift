import XCTest
import CSQLite
@testable import DqliteNode

/// A SQLite connection on a replicating VFS, set up as dqlite's leader connections are.
final class TestConnection {
    let db: OpaquePointer
    let vfs: ReplicatingVFS
    let name: String

    init(_ vfs: ReplicatingVFS, _ name: String) throws {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(name, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.name)
        guard rc == SQLITE_OK, let handle else { throw VFSError.sqlite(rc, "open \(name)") }
        db = handle
        self.vfs = vfs
        self.name = name
        sqlite3_extended_result_codes(db, 1)
        _ = dqs_db_config_int(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        for pragma in ["PRAGMA page_size=4096", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=OFF", "PRAGMA wal_autocheckpoint=0"] {
            try run(pragma)
        }
    }

    deinit { sqlite3_close_v2(db) }

    /// Runs every statement of `sql`; SQLite's result code on failure.
    @discardableResult
    func exec(_ sql: String) -> Int32 {
        sqlite3_exec(db, sql, nil, nil, nil)
    }

    func run(_ sql: String) throws {
        let rc = exec(sql)
        guard rc == SQLITE_OK else { throw VFSError.sqlite(rc, "\(sql): \(String(cString: sqlite3_errmsg(db)))") }
    }

    /// Runs one write statement as the leader does: step, then poll; the captured pages are returned.
    func write(_ sql: String) throws -> CapturedPages? {
        try run(sql)
        return vfs.poll(database: name)
    }

    /// Every row of a query, as text.
    func rows(_ sql: String) throws -> [[String]] {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else { throw VFSError.sqlite(rc, "\(sql): \(String(cString: sqlite3_errmsg(db)))") }
        defer { sqlite3_finalize(stmt) }
        var out: [[String]] = []
        while true {
            let step = sqlite3_step(stmt)
            if step == SQLITE_DONE { return out }
            guard step == SQLITE_ROW else { throw VFSError.sqlite(step, "\(sql): \(String(cString: sqlite3_errmsg(db)))") }
            out.append((0..<sqlite3_column_count(stmt)).map { i in
                sqlite3_column_text(stmt, i).map { String(cString: $0) } ?? "NULL"
            })
        }
    }

    func int(_ sql: String) throws -> Int { Int(try rows(sql)[0][0])! }
}
