import XCTest
import LocalCluster
import Foundation
import DqliteWire
@testable import DqliteNode

/// Three real nodes in this process, each with its own loop thread, Raft log dir and VFS, talking Raft over
/// loopback TCP through their shared-port listeners and the CONNECT handshake.
final class ThreeNodeRaftTests: XCTestCase {
    private func settings() -> NodeSettings {
        var s = NodeSettings()
        s.electionTimeoutMs = 1000
        s.heartbeatTimeoutMs = 100
        return s
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    func leaderOf(_ nodes: [Node]) async -> Node? {
        for n in nodes where await n.isLeader { return n }
        return nil
    }

    func testThreeNodesReplicateAndSurviveTheLossOfTheLeader() async throws {
        let nodes = try await startInProcessCluster(self, settings: settings())
        var leader: Node?
        try await waitFor("a leader") { leader = await leaderOf(nodes); return leader != nil }
        let first = try XCTUnwrap(leader)
        _ = try await first.execute(database: "demo", sql: "CREATE TABLE t (k INTEGER PRIMARY KEY, r INTEGER)")
        for _ in 0..<200 { _ = try await first.execute(database: "demo", sql: "INSERT INTO t (r) VALUES (random())") }
        let expected = try await first.execute(database: "demo", sql: "SELECT k, r FROM t ORDER BY k").rows
        XCTAssertEqual(expected.count, 200)
        for n in nodes where n !== first {
            try await waitFor("node \(n.id) to catch up") {
                try await n.readLocal(database: "demo", sql: "SELECT count(*) FROM t") == [[.integer(200)]]
            }
            let rows = try await n.readLocal(database: "demo", sql: "SELECT k, r FROM t ORDER BY k")
            XCTAssertEqual(rows, expected, "node \(n.id) holds the leader's random() values")
        }
        do {
            _ = try await nodes.first { $0 !== first }!.execute(database: "demo", sql: "INSERT INTO t (r) VALUES (0)")
            XCTFail("a follower accepted a write")
        } catch {
            XCTAssertEqual(error, .notLeader)
            XCTAssertEqual(error.code, ErrorCode.notLeader)
        }

        // The leader goes away; the other two elect one of themselves and keep every acknowledged write.
        await first.stop()
        let rest = nodes.filter { $0 !== first }
        var second: Node?
        try await waitFor("a new leader") { second = await leaderOf(rest); return second != nil }
        let next = try XCTUnwrap(second)
        _ = try await next.execute(database: "demo", sql: "INSERT INTO t (r) VALUES (42)")
        let count = try await next.execute(database: "demo", sql: "SELECT count(*) FROM t").rows
        XCTAssertEqual(count, [[.integer(201)]])
        let other = try XCTUnwrap(rest.first { $0 !== next })
        try await waitFor("the remaining follower") {
            try await other.readLocal(database: "demo", sql: "SELECT count(*) FROM t") == [[.integer(201)]]
        }
    }
}

extension ThreeNodeRaftTests {
    private func cluster(staleReads: Bool) async throws -> [Node] {
        var s = NodeSettings()
        s.electionTimeoutMs = 4000
        s.heartbeatTimeoutMs = 100
        s.staleReads = staleReads
        return try await startInProcessCluster(self, settings: s)
    }

    /// Cut off from its quorum, a leader that does not know it yet must not answer reads by default; with
    /// stale reads (C dqlite's behaviour) it does.
    func testAnIsolatedLeaderAnswersNoLinearizableRead() async throws {
        for stale in [false, true] {
            let nodes = try await cluster(staleReads: stale)
            var leader: Node?
            try await waitFor("a leader") { leader = await leaderOf(nodes); return leader != nil }
            let l = try XCTUnwrap(leader)
            _ = try await l.execute(database: "demo", sql: "CREATE TABLE t (n INTEGER)")
            _ = try await l.execute(database: "demo", sql: "INSERT INTO t VALUES (1)")
            for n in nodes where n !== l { await n.stop() }
            do {
                let rows = try await l.execute(database: "demo", sql: "SELECT count(*) FROM t").rows
                XCTAssertTrue(stale, "an isolated leader answered a linearizable read: \(rows)")
                XCTAssertEqual(rows, [[.integer(1)]])
            } catch {
                XCTAssertFalse(stale, "stale reads should be answered: \(error)")
                XCTAssertTrue([NodeError.leadershipLost, .notLeader].contains(error), "\(error)")
            }
            await l.stop()
        }
    }
}
