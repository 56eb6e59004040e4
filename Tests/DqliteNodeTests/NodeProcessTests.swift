import XCTest
import Foundation
import CSQLite
import DqliteClient
import DqliteWire
import LocalCluster

/// Clusters of `dqlite-node` processes on loopback, driven by Debian's go-dqlite shell and by our client.
final class NodeProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    private func startCluster(_ n: Int = 3) async throws -> ProcessCluster {
        let cluster = try await ProcessCluster.start(nodes: n, kind: .swiftNode(executable: nodeBinary))
        addTeardownBlock { await cluster.stop() }
        return cluster
    }

    private func goShell(_ servers: [String], _ args: [String]) async throws -> CommandResult {
        try await CommandRunner.run("/usr/bin/dqlite", ["-s", servers.joined(separator: ",")] + args, timeout: .seconds(60))
    }

    func testDebiansGoShellRunsSQLAndClusterCommandsAgainstOurNodes() async throws {
        let cluster = try await startCluster()
        let servers = cluster.addresses
        var r = try await goShell(servers, ["demo", "CREATE TABLE t (a INTEGER, b TEXT)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try await goShell([servers[2]], ["demo", "INSERT INTO t VALUES (1, 'x')"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try await goShell(servers, ["demo", "SELECT * FROM t"])
        XCTAssertEqual(r.stdout, "1|x\n", r.stderr)
        r = try await goShell(servers, ["demo", ".cluster"])
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        XCTAssertEqual(Set(lines.map { $0[1] }), Set(servers), r.stdout + r.stderr)
        XCTAssertEqual(lines.map { $0[2] }, ["voter", "voter", "voter"])
        let leader = try await DqliteClient(addresses: servers).leaderAddress()
        r = try await goShell([servers[1]], ["demo", ".leader"])
        XCTAssertEqual(r.stdout, leader + "\n")
    }

    func testSigkillOfTheLeaderDuringWritesLosesNoAcknowledgedWrite() async throws {
        let cluster = try await startCluster()
        var config = ClientConfig()
        config.leaderTimeout = .seconds(20)
        config.requestTimeout = .seconds(5)
        let db = try await DqliteClient(addresses: cluster.addresses, config: config).open("demo")
        try await db.exec("CREATE TABLE k (n INTEGER PRIMARY KEY)")
        var acknowledged: [Int64] = []
        var killedAt: ContinuousClock.Instant?
        var recovered: Duration?
        var killed = -1
        for n in Int64(0)..<300 {
            if n == 100 {
                killed = try await cluster.leaderIndex()
                await cluster.kill(killed)
                killedAt = .now
            }
            do {
                try await db.exec("INSERT INTO k VALUES (?)", [.integer(n)])
                acknowledged.append(n)
                if let at = killedAt, recovered == nil { recovered = ContinuousClock.now - at }
            } catch {
                // Only an unknown outcome is acceptable here; the retry policy handles the rest.
                XCTAssertEqual(error.outcome, .mayHaveHappened, "\(error)")
            }
        }
        let present = Set(try await db.queryAll("SELECT n FROM k").rows.compactMap { row -> Int64? in
            if case .integer(let v) = row[0] { return v } else { return nil }
        })
        XCTAssertTrue(Set(acknowledged).isSubset(of: present), "acknowledged writes missing: \(Set(acknowledged).subtracting(present).sorted())")
        XCTAssertGreaterThanOrEqual(acknowledged.count, 290)
        print("new leader reached \(recovered.map { "\($0)" } ?? "?") after SIGKILL (election timeout 1 s)")

        // The killed node restarts from its dir and catches up: its own copy (DUMP) holds every row.
        try await cluster.launch(killed)
        let node = cluster.nodes[killed].address
        let expected = present.count
        let deadline = ContinuousClock.now + .seconds(30)
        var count = -1
        while ContinuousClock.now < deadline {
            if let files = try? await DqliteClient(addresses: [node]).node(node).dump(database: "demo") {
                count = try Self.countRows(files)
                if count == expected { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(count, expected, "the restarted node caught up")
    }

    /// Opens a DUMP (main file + WAL) with plain SQLite, as the sqlite3 CLI would, and counts k's rows.
    static func countRows(_ files: [DumpFile]) throws -> Int {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dump-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in files { try Data(f.content).write(to: URL(fileURLWithPath: dir + "/" + f.name)) }
        var db: OpaquePointer?
        guard sqlite3_open_v2(dir + "/demo", &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { return -1 }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT count(*) FROM k", -1, &stmt, nil) == SQLITE_OK else { return -1 }
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { return -1 }
        return Int(sqlite3_column_int64(stmt, 0))
    }
}
