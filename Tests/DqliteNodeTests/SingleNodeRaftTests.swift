import XCTest
import LocalCluster
import Foundation
import DqliteWire
@testable import DqliteNode

/// One real node: C-Raft with its libuv backend writing its log in a temp dir, the FSM applying frames to
/// the replicating VFS, and the leader write path in between.
final class SingleNodeRaftTests: XCTestCase {
    private func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-node-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func settings(snapshotEvery threshold: UInt32 = 1024) -> NodeSettings {
        var s = NodeSettings()
        s.electionTimeoutMs = 300
        s.heartbeatTimeoutMs = 50
        s.snapshotThreshold = threshold
        s.snapshotTrailing = max(4, threshold)
        return s
    }

    private func startNode(_ dir: String, _ s: NodeSettings) async throws -> Node {
        let address = "127.0.0.1:\(try freeLoopbackPort())"
        let node = try await Node(id: 1, address: address, dir: dir, bootstrap: [(1, address)], settings: s)
        try await node.waitUntilLeader(timeout: .seconds(10))
        return node
    }

    func testWritesGoThroughRaftAndSurviveARestart() async throws {
        let dir = try tempDir()
        var node = try await startNode(dir, settings())
        _ = try await node.execute(database: "demo", sql: "CREATE TABLE t (k INTEGER PRIMARY KEY, r INTEGER, s TEXT)")
        for i in 0..<100 {
            let r = try await node.execute(database: "demo", sql: "INSERT INTO t (r, s) VALUES (random(), ?)", parameters: [.text("row \(i)")])
            XCTAssertEqual(r.rowsAffected, 1)
            XCTAssertEqual(r.lastInsertID, Int64(i + 1))
        }
        let before = try await node.execute(database: "demo", sql: "SELECT k, r, s FROM t ORDER BY k").rows
        XCTAssertEqual(before.count, 100)
        let multi = try await node.execute(database: "demo", sql: "BEGIN; INSERT INTO t (r, s) VALUES (1, 'a'); INSERT INTO t (r, s) VALUES (2, 'b'); COMMIT")
        XCTAssertEqual(multi.rowsAffected, 1, "the last statement's figures, as EXEC_SQL reports")
        await node.stop()

        // The Raft log is the durable state: a new process (here a new node on the same dir) rebuilds it all.
        node = try await startNode(dir, settings())
        let after = try await node.execute(database: "demo", sql: "SELECT k, r, s FROM t ORDER BY k").rows
        XCTAssertEqual(Array(after.prefix(100)), before)
        XCTAssertEqual(after.count, 102)
        let check = try await node.execute(database: "demo", sql: "PRAGMA integrity_check").rows
        XCTAssertEqual(check, [[.text("ok")]])
        await node.stop()
    }

    func testRestartFromSnapshotsAndTheLogAfterThem() async throws {
        let dir = try tempDir()
        var node = try await startNode(dir, settings(snapshotEvery: 8))
        _ = try await node.execute(database: "demo", sql: "CREATE TABLE t (n INTEGER)")
        for i in 0..<60 { _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (?)", parameters: [.integer(Int64(i))]) }
        await node.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertTrue(files.contains { $0.hasPrefix("snapshot-") }, "Raft took snapshots: \(files)")

        node = try await startNode(dir, settings(snapshotEvery: 8))
        let sum = try await node.execute(database: "demo", sql: "SELECT count(*), sum(n) FROM t").rows
        XCTAssertEqual(sum, [[.integer(60), .integer(59 * 60 / 2)]])
        _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (1000)")
        await node.stop()
    }

    func testSQLErrorsComeBackWithTheirCodesAndLeaveNothingHeld() async throws {
        let node = try await startNode(try tempDir(), settings())
        _ = try await node.execute(database: "demo", sql: "CREATE TABLE t (n INTEGER UNIQUE)")
        _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (1)")
        do {
            _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (1)")
            XCTFail("duplicate accepted")
        } catch {
            XCTAssertEqual(error.code & 0xFF, 19, "SQLITE_CONSTRAINT: \(error)")
        }
        do {
            _ = try await node.execute(database: "demo", sql: "SELECT * FROM missing")
            XCTFail("missing table")
        } catch {
            XCTAssertEqual(error.code, 1)
        }
        _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (2)")
        let rows = try await node.execute(database: "demo", sql: "SELECT n FROM t ORDER BY n").rows
        XCTAssertEqual(rows, [[.integer(1)], [.integer(2)]])
        await node.stop()
    }
}

extension SingleNodeRaftTests {
    func testTheWALIsCheckpointedSoMemoryStaysBounded() async throws {
        let node = try await startNode(try tempDir(), settings())
        _ = try await node.execute(database: "demo", sql: "CREATE TABLE t (n INTEGER, pad TEXT)")
        for i in 0..<1500 {
            _ = try await node.execute(database: "demo", sql: "INSERT INTO t VALUES (?, ?)", parameters: [.integer(Int64(i)), .text(String(repeating: "p", count: 300))])
        }
        let frames = try await node.walFrameCount(database: "demo")
        XCTAssertLessThan(frames, 1000, "the WAL was truncated by a checkpoint")
        let rows = try await node.execute(database: "demo", sql: "SELECT count(*), sum(n) FROM t").rows
        XCTAssertEqual(rows, [[.integer(1500), .integer(1499 * 1500 / 2)]])
        await node.stop()
    }
}
