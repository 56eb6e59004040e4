import CSQLite
import DqliteClient
import Foundation

/// What one node holds: its copy of the workload's table, read from a DUMP of that node (its own files,
/// whatever the leader says), opened with SQLite.
enum NodeContents {
    /// Writes node `address`'s DUMP of `database` under `scratch`; the database file's path.
    static func dump(at address: String, database: String, scratch: String) async throws -> String {
        var config = ClientConfig()
        config.requestTimeout = .seconds(10)
        let node = try await NodeClient.connect(to: address, config: config)
        defer { node.close() }
        let files = try await node.dump(database: database)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + database
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        for f in files { _ = FileManager.default.createFile(atPath: scratch + "/" + f.name, contents: Data(f.content)) }
        return path
    }

    /// key → elements in insertion order, as node `address` has them.
    static func lists(at address: String, database: String, scratch: String) async throws -> [Int64: [Int64]] {
        try read(try await dump(at: address, database: database, scratch: scratch))
    }

    static func read(_ path: String) throws -> [Int64: [Int64]] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw ChaosError.harness("cannot open the dump \(path)")
        }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT k, v FROM appends ORDER BY id", -1, &stmt, nil) == SQLITE_OK else {
            throw ChaosError.harness("the dump \(path) has no appends table: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(stmt) }
        var out: [Int64: [Int64]] = [:]
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return out }
            guard rc == SQLITE_ROW else { throw ChaosError.harness("reading the dump \(path): \(String(cString: sqlite3_errmsg(db)))") }
            out[sqlite3_column_int64(stmt, 0), default: []].append(sqlite3_column_int64(stmt, 1))
        }
    }
}
