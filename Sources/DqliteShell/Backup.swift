import DqliteClient
import DqliteWire
import Foundation

/// Online backup of a cluster's database to a SQLite file, and its restore into a cluster.
public enum Backup {
    public struct Summary: Sendable {
        public var tables = 0
        public var rows = 0
        public var bytes = 0
        public var leader = ""
    }

    /// Writes `database` as the leader holds it to `file`, a standalone SQLite database (no WAL), without
    /// stopping writes: a read through the leader first (its barrier: every write acknowledged before the
    /// backup began is applied there), then DUMP from that leader (the database file and its WAL, copied at
    /// one instant on its loop), then SQLite itself folds the WAL in (`VACUUM INTO`). An existing `file` is
    /// refused unless `overwrite`.
    public static func backup(client: DqliteClient, database: String, to file: String, overwrite: Bool = false) async throws -> Summary {
        if FileManager.default.fileExists(atPath: file) {
            guard overwrite else { throw ShellError("\(file) exists: give another file, or --force to replace it") }
            try FileManager.default.removeItem(atPath: file)
        }
        let connection = try await client.open(database)
        defer { Task { await connection.close() } }
        _ = try await connection.queryAll("SELECT 1")
        guard let leader = await connection.leaderAddress else { throw ShellError("no leader to back up from") }
        let node = try await client.node(leader)
        defer { node.close() }
        let files = try await node.dump(database: database)
        guard let main = files.first(where: { !$0.name.hasSuffix("-wal") }) else {
            throw ShellError("the leader sent no database file for '\(database)'")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let dumped = scratch + "/db"
        try write(main.content, to: dumped)
        if let wal = files.first(where: { $0.name.hasSuffix("-wal") }) { try write(wal.content, to: dumped + "-wal") }
        let copy = try LocalSQLite(path: dumped, readOnly: false)
        try copy.exec("VACUUM INTO '\(file.replacingOccurrences(of: "'", with: "''"))'")
        var summary = Summary(leader: leader)
        let result = try LocalSQLite(path: file, readOnly: true)
        for name in try result.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
            guard case .text(let t)? = name.first else { continue }
            summary.tables += 1
            if case .integer(let n)? = try result.rows("SELECT count(*) FROM \(quotedIdentifier(t))").first?.first { summary.rows += Int(n) }
        }
        summary.bytes = ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int) ?? 0
        return summary
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw ShellError("cannot write \(path)") }
    }
}
