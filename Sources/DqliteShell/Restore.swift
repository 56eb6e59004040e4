import DqliteClient
import DqliteWire
import Foundation

extension Backup {
    /// Loads the SQLite database `file` into `database` on the cluster, replicated like any write: tables
    /// first, then their rows in transactions of `batch` rows (rowids kept), then sqlite_sequence, indexes,
    /// views and triggers (after the rows, so no trigger fires on them). A database that already holds
    /// tables is refused unless `replace`, which drops what it holds first.
    public static func restore(client: DqliteClient, database: String, from file: String, replace: Bool = false,
                               batch: Int = 1000) async throws -> Summary {
        guard FileManager.default.fileExists(atPath: file) else { throw ShellError("\(file) does not exist") }
        let source = try LocalSQLite(path: file, readOnly: true)
        let objects = try source.rows("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
            .compactMap { row -> (type: String, name: String, sql: String)? in
                guard row.count == 3, case .text(let type) = row[0], case .text(let name) = row[1], case .text(let sql) = row[2] else { return nil }
                return (type, name, sql)
            }
        let target = try await client.open(database)
        defer { Task { await target.close() } }
        let existing = try await target.queryAll("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'view', 'trigger')").rows
        if !existing.isEmpty {
            guard replace else {
                throw ShellError("database '\(database)' is not empty (\(existing.count) tables, views or triggers): restore into an empty database, or give --force to replace what it holds")
            }
            for row in existing where row.first == .text("trigger") || row.first == .text("view") {
                if case .text(let type) = row[0], case .text(let name) = row[1] { try await target.exec("DROP \(type.uppercased()) IF EXISTS \(quotedIdentifier(name))") }
            }
            for row in existing where row.first == .text("table") {
                if case .text(let name) = row[1] { try await target.exec("DROP TABLE IF EXISTS \(quotedIdentifier(name))") }
            }
        }
        var summary = Summary(leader: await target.leaderAddress ?? "")
        for table in objects where table.type == "table" {
            try await target.exec(table.sql)
            summary.tables += 1
            summary.rows += try await copyRows(of: table.name, from: source, to: target, batch: batch)
        }
        if try !source.rows("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'").isEmpty {
            for row in try source.rows("SELECT name, seq FROM sqlite_sequence") where row.count == 2 {
                try await target.exec("DELETE FROM sqlite_sequence WHERE name = ?", [row[0]])
                try await target.exec("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", row)
            }
        }
        for object in objects where object.type != "table" { try await target.exec(object.sql) }
        summary.bytes = ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int) ?? 0
        return summary
    }

    /// Copies every row of `table`, its rowid too when it has one, in transactions of `batch` rows.
    private static func copyRows(of table: String, from source: LocalSQLite, to target: Connection, batch: Int) async throws -> Int {
        let info = try source.rows("SELECT name, upper(type), pk FROM pragma_table_info(?)", [table])
        let columns = info.compactMap { row -> String? in
            if case .text(let n)? = row.first { return n }
            return nil
        }
        let withoutRowid = (try? source.rows("SELECT rowid FROM \(quotedIdentifier(table)) LIMIT 0")) == nil
        // An INTEGER PRIMARY KEY column is the rowid itself: copied as that column. Else the rowid is copied
        // as well, so rows keep it. The rowid is always read first, for paging.
        let keys = info.filter { if case .integer(let pk) = $0[2] { pk > 0 } else { false } }
        let aliased = keys.count == 1 && keys[0][1] == .text("INTEGER")
        let read = (withoutRowid ? [] : ["rowid"]) + columns.map(quotedIdentifier)
        let written = (withoutRowid || aliased ? [] : ["rowid"]) + columns.map(quotedIdentifier)
        let select = "SELECT \(read.joined(separator: ", ")) FROM \(quotedIdentifier(table))"
        // Many rows per INSERT (within SQLite's 32766 parameters): a round trip per row took 21 s for 200 000.
        let perStatement = max(1, min(100, 32766 / max(1, written.count)))
        func insert(rows: Int) -> String {
            let tuple = "(" + written.map { _ in "?" }.joined(separator: ", ") + ")"
            return "INSERT INTO \(quotedIdentifier(table)) (\(written.joined(separator: ", "))) VALUES "
                + Array(repeating: tuple, count: rows).joined(separator: ", ")
        }
        let skip = read.count - written.count  // the rowid read only for paging
        // Rows are read in chunks and written in transactions: neither side holds the whole table.
        var copied = 0
        var lastRowid: Int64?
        while true {
            var chunk: [[Value]] = []
            if withoutRowid {
                try source.each(select + " LIMIT \(batch) OFFSET \(copied)") { chunk.append($0) }
            } else {
                let after = lastRowid.map { " WHERE rowid > \($0)" } ?? ""
                try source.each(select + after + " ORDER BY rowid LIMIT \(batch)") { chunk.append($0) }
            }
            if chunk.isEmpty { return copied }
            let full = try await target.prepare(insert(rows: perStatement))
            try await target.begin()
            do {
                var at = 0
                while at < chunk.count {
                    let n = min(perStatement, chunk.count - at)
                    let values = chunk[at..<(at + n)].flatMap { $0.dropFirst(skip) }
                    if n == perStatement { try await full.exec(values) } else { try await target.exec(insert(rows: n), values) }
                    at += n
                }
                try await target.commit()
            } catch {
                try? await target.rollback()
                throw error
            }
            try? await full.finalize()
            copied += chunk.count
            if !withoutRowid, case .integer(let r)? = chunk.last?.first { lastRowid = r }
        }
    }
}
