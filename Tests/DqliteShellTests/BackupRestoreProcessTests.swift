import DqliteClient
import DqliteWire
import Foundation
import LocalCluster
import Synchronization
import XCTest

/// `dqlite backup` of a live cluster under writes, the file checked with the sqlite3 CLI, and `dqlite
/// restore` into a fresh cluster: every row acknowledged before the backup began is there, and every node of
/// the restored cluster holds the same bytes.
final class BackupRestoreProcessTests: XCTestCase {
    private var shell: String { CommandRunner.productsDirectory + "/dqlite" }
    private var node: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testABackupUnderWritesRestoresEveryRowAcknowledgedBeforeItAndTheNodesAgree() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3"), "needs the sqlite3 CLI")
        let source = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: node))
        addTeardownBlock { await source.stop() }
        let sourceAddresses = await source.addresses
        let client = try DqliteClient(addresses: sourceAddresses)
        let db = try await client.open("shop")
        try await db.exec("""
            CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, photo BLOB);
            CREATE INDEX items_by_name ON items (name);
            CREATE TABLE log (message TEXT);
            CREATE TABLE counters (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
            CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
            CREATE TRIGGER count_items AFTER INSERT ON items BEGIN
              INSERT INTO counters (k, n) VALUES ('items', 1) ON CONFLICT (k) DO UPDATE SET n = n + 1;
            END;
            """)
        let acknowledged = Mutex<[Int64]>([])
        let writer = Task {
            var i = 0
            while !Task.isCancelled {
                i += 1
                do {
                    let r = try await db.exec("INSERT INTO items (name, price, photo) VALUES (?, ?, randomblob(64))",
                                              [.text("item \(i) 'quoted' \u{e9}"), .float(Double(i) * 0.5)])
                    acknowledged.withLock { $0.append(r.lastInsertID) }
                    try await db.exec("INSERT INTO log (message) VALUES (?)", [.text("added \(r.lastInsertID)")])
                } catch {}
            }
        }
        while acknowledged.withLock({ $0.count }) < 300 { try await Task.sleep(for: .milliseconds(20)) }
        let before = Set(acknowledged.withLock { $0 })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-backup-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/shop.db"
        let backup = try await CommandRunner.run(shell, ["backup", "-s", sourceAddresses.joined(separator: ","), "shop", file])
        try await Task.sleep(for: .milliseconds(300))  // writes go on after the backup
        writer.cancel()
        _ = await writer.value
        XCTAssertEqual(backup.status, 0, backup.stderr)
        print(backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        // The file is a standalone SQLite database the sqlite3 CLI opens and finds intact.
        let check = try await CommandRunner.run("/usr/bin/sqlite3", [file, "PRAGMA integrity_check"])
        XCTAssertEqual(check.stdout, "ok\n", check.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file + "-wal"))
        let ids = Set(try await CommandRunner.run("/usr/bin/sqlite3", [file, "SELECT id FROM items"]).stdout
            .split(separator: "\n").compactMap { Int64($0) })
        XCTAssertTrue(before.isSubset(of: ids), "\(before.subtracting(ids).count) rows acknowledged before the backup are missing")
        let backedUp = try await CommandRunner.run("/usr/bin/sqlite3", [file, "SELECT count(*) FROM items; SELECT n FROM counters"]).stdout
        XCTAssertEqual(backedUp, "\(ids.count)\n\(ids.count)\n", "the trigger's counter matches the rows")

        // Restored into a fresh cluster: the same rows, schema objects, and bytes on every node.
        let target = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: node))
        addTeardownBlock { await target.stop() }
        let targetAddresses = await target.addresses
        let restore = try await CommandRunner.run(shell, ["restore", "-s", targetAddresses.joined(separator: ","), "shop", file, "--batch", "100"])
        XCTAssertEqual(restore.status, 0, restore.stderr)
        print(restore.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let again = try await CommandRunner.run(shell, ["restore", "-s", targetAddresses.joined(separator: ","), "shop", file])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("is not empty"), again.stderr)

        let restored = try await DqliteClient(addresses: targetAddresses).open("shop")
        let restoredIDs = Set(try await restored.queryAll("SELECT id FROM items").rows.compactMap { row -> Int64? in
            if case .integer(let v)? = row.first { return v }
            return nil
        })
        XCTAssertEqual(restoredIDs, ids)
        let logRows = try await restored.queryAll("SELECT count(*) FROM log").rows
        let originalLog = try await CommandRunner.run("/usr/bin/sqlite3", [file, "SELECT count(*) FROM log"]).stdout
        XCTAssertEqual(logRows, [[.integer(Int64(originalLog.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)]])
        let counter = try await restored.queryAll("SELECT n FROM counters WHERE k = 'items'").rows
        XCTAssertEqual(counter, [[.integer(Int64(ids.count))]], "the trigger was created after the rows: it did not count them again")
        let schema = try await restored.queryAll("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").rows
        XCTAssertEqual(schema, [[.text("view"), .text("cheap")], [.text("trigger"), .text("count_items")], [.text("table"), .text("counters")],
                                [.text("table"), .text("items")], [.text("index"), .text("items_by_name")], [.text("table"), .text("log")]])
        let original = try await CommandRunner.run("/usr/bin/sqlite3", [file, "SELECT id, name, price, hex(photo) FROM items ORDER BY id"]).stdout
        let copied = try await restored.queryAll("SELECT id, name, price, hex(photo) FROM items ORDER BY id").rows
        XCTAssertEqual(copied.count, original.split(separator: "\n").count)
        if case .text(let name)? = copied.first?[1] { XCTAssertTrue(name.contains("'quoted' \u{e9}"), name) }

        // Every node of the restored cluster holds the same database bytes (once the followers caught up):
        // each node's DUMP, its WAL folded in by SQLite (WAL headers differ from node to node, pages do not).
        let deadline = ContinuousClock.now + .seconds(15)
        var images: [[UInt8]] = []
        while true {
            images = []
            for (i, address) in targetAddresses.enumerated() {
                let n = try await DqliteClient(addresses: targetAddresses).node(address)
                let files = try await n.dump(database: "shop")
                n.close()
                images.append(try await checkpointedImage(files, in: dir + "/node\(i + 1)"))
            }
            if images.allSatisfy({ $0 == images[0] }) { break }
            guard ContinuousClock.now < deadline else {
                return XCTFail("the restored nodes' databases differ: \(images.map(\.count)) bytes")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertGreaterThan(images[0].count, 8192)
    }

    /// The database file `files` (a DUMP) make once SQLite has checkpointed the WAL into it.
    private func checkpointedImage(_ files: [DumpFile], in dir: String) async throws -> [UInt8] {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { FileManager.default.createFile(atPath: dir + "/" + f.name, contents: Data(f.content)) }
        let r = try await CommandRunner.run("/usr/bin/sqlite3", [dir + "/shop", "PRAGMA wal_checkpoint(TRUNCATE)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/shop")))
    }
}
