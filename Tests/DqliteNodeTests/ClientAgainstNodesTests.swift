import XCTest
import LocalCluster
import Foundation
import DqliteClient
import DqliteWire
@testable import DqliteNode

/// Our wire client against three of our nodes (in this process, real sockets): the gateway speaks
/// protocol v1 as C dqlite does.
final class ClientAgainstNodesTests: XCTestCase {
    private func startCluster(busyTimeoutMs: UInt32 = 5000) async throws -> [Node] {
        var s = NodeSettings()
        s.electionTimeoutMs = 1000
        s.heartbeatTimeoutMs = 100
        s.busyTimeoutMs = busyTimeoutMs
        return try await startInProcessCluster(self, settings: s)
    }

    private func config() -> ClientConfig {
        var c = ClientConfig()
        c.leaderTimeout = .seconds(20)
        c.requestTimeout = .seconds(10)
        return c
    }

    func testTheClientFindsTheLeaderWritesAndStreamsRows() async throws {
        let nodes = try await startCluster()
        let addresses = nodes.map(\.address)
        let client = try DqliteClient(addresses: addresses, config: config())
        let leader = try await client.leaderAddress()
        for a in addresses {
            let found = try await DqliteClient(addresses: [a], config: config()).leaderAddress()
            XCTAssertEqual(found, leader, "asked \(a)")
        }
        let db = try await client.open("demo")
        try await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, d DATETIME, ok BOOLEAN)")
        let insert = try await db.prepare("INSERT INTO t (id, i, f, s, b, n, d, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        @Sendable func row(_ k: Int) -> [Value] {
            [.integer(Int64(k)), .integer(Int64(k) * -3), .float(Double(k) / 4), .text("row \(k)"),
             .blob([UInt8(k & 0xFF), 1, 2]), .null, .integer(1_700_000_000 + Int64(k)), .boolean(k % 2 == 0)]
        }
        for batch in 0..<10 {
            try await db.transaction { tx in
                for k in (batch * 100)..<(batch * 100 + 100) { try await insert.exec(row(k)) }
            }
        }
        var count = 0
        for try await values in try await db.query("SELECT id, i, f, s, b, n, d, ok FROM t ORDER BY id") {
            var expected = row(count)
            expected[6] = .unixTime(1_700_000_000 + Int64(count))
            XCTAssertEqual(values, expected)
            count += 1
        }
        XCTAssertEqual(count, 1000)

        let members = try await client.cluster()
        XCTAssertEqual(Set(members.map(\.address)), Set(addresses))
        XCTAssertEqual(members.map(\.knownRole), [.voter, .voter, .voter])

        // A follower refuses writes with 10250.
        let follower = try XCTUnwrap(addresses.first { $0 != leader })
        let node = try await NodeClient.connect(to: follower)
        defer { node.close() }
        let opened = try await node.connection.call(.open(name: "demo", flags: 0, vfs: "volatile"), timeout: .seconds(5))
        guard case let .failure(code, _) = opened else { return XCTFail("OPEN on a follower: \(opened)") }
        XCTAssertEqual(code, ErrorCode.notLeader)

        // Early close of a streaming result leaves the connection usable.
        let rows = try await db.query("SELECT id FROM t ORDER BY id")
        var it = rows.makeAsyncIterator()
        _ = try await it.next()
        try await rows.close()
        let n = try await db.queryAll("SELECT count(*) FROM t").rows
        XCTAssertEqual(n, [[.integer(1000)]])

        // Leadership transfer; the client follows.
        try await client.withLeader { c throws(DqliteError) in try await c.transfer(to: 0) }
        let after = try await client.leaderAddress()
        XCTAssertNotEqual(after, leader)
        try await db.exec("INSERT INTO t (id, i) VALUES (5000, 1)")
        let total = try await db.queryAll("SELECT count(*) FROM t").rows
        XCTAssertEqual(total, [[.integer(1001)]])
    }

    func testConcurrentWritersWaitTheirTurnInsteadOfFailing() async throws {
        let nodes = try await startCluster()
        let client = try DqliteClient(addresses: nodes.map(\.address), config: config())
        let setup = try await client.open("demo")
        try await setup.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<8 {
                group.addTask {
                    let db = try await client.open("demo")
                    var failed = 0
                    for i in 0..<60 {
                        do {
                            try await db.exec("INSERT INTO kv VALUES (?, ?)", [.text("w\(w)-\(i)"), .text(String(repeating: "v", count: 512))])
                        } catch {
                            failed += 1
                        }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(failures, 0, "no writer saw 'database is locked'")
        let rows = try await setup.queryAll("SELECT count(*) FROM kv").rows
        XCTAssertEqual(rows, [[.integer(480)]])
    }

    func testAWriterGivesUpAtTheBusyTimeout() async throws {
        let nodes = try await startCluster(busyTimeoutMs: 1000)
        let client = try DqliteClient(addresses: nodes.map(\.address), config: config())
        let a = try await client.open("demo"), b = try await client.open("demo")
        try await a.exec("CREATE TABLE t (n INTEGER)")
        try await a.begin()
        try await a.exec("INSERT INTO t VALUES (1)")  // a now holds the write lock until COMMIT
        let start = ContinuousClock.now
        do {
            try await b.exec("INSERT INTO t VALUES (2)")
            XCTFail("b wrote while a held the write lock")
        } catch {
            XCTAssertEqual(error.kind, .busy, "\(error)")
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(900), "b waited for the busy timeout")
        }
        // b waits, and goes ahead as soon as a commits.
        async let late = b.exec("INSERT INTO t VALUES (3)")
        try await Task.sleep(for: .milliseconds(100))
        try await a.commit()
        _ = try await late
        let rows = try await a.queryAll("SELECT n FROM t ORDER BY n").rows
        XCTAssertEqual(rows, [[.integer(1)], [.integer(3)]])
    }
}

extension ClientAgainstNodesTests {
    /// After a step-down, a connection that had opened its database on the old leader gets "no database
    /// opened" (SQLITE_NOTFOUND), as with C dqlite; our client's Connection reconnects on its own.
    func testAConnectionOpenedOnAnOldLeaderGetsNotFound() async throws {
        let nodes = try await startCluster()
        let client = try DqliteClient(addresses: nodes.map(\.address), config: config())
        let leader = try await client.leaderAddress()
        let raw = try await NodeClient.connect(to: leader)
        defer { raw.close() }
        guard case .db = try await raw.connection.call(.open(name: "demo", flags: 0, vfs: "volatile"), timeout: .seconds(5)) else {
            return XCTFail("OPEN on the leader failed")
        }
        let db = try await client.open("demo")
        try await db.exec("CREATE TABLE t (n INTEGER)")
        try await client.withLeader { c throws(DqliteError) in try await c.transfer(to: 0) }
        let reply = try await raw.connection.call(.execSQL(db: 0, sql: "INSERT INTO t VALUES (1)", parameters: []), timeout: .seconds(5))
        guard case let .failure(code, _) = reply else { return XCTFail("expected FAILURE, got \(reply)") }
        XCTAssertEqual(code, ErrorCode.sqliteNotFound)
        try await db.exec("INSERT INTO t VALUES (2)")
        let rows = try await db.queryAll("SELECT n FROM t").rows
        XCTAssertEqual(rows, [[.integer(2)]])
    }

    /// CLUSTER format 0 (id and address, no role) is answered in that layout.
    func testClusterFormatZero() async throws {
        let nodes = try await startCluster()
        let raw = try await NodeClient.connect(to: nodes[0].address)
        defer { raw.close() }
        let reply = try await raw.connection.call(.cluster(format: 0), timeout: .seconds(5), context: ResponseContext(clusterFormat: .v0))
        guard case .servers(let members) = reply else { return XCTFail("expected SERVERS, got \(reply)") }
        XCTAssertEqual(Set(members.map(\.address)), Set(nodes.map(\.address)))
        XCTAssertTrue(members.allSatisfy { $0.role == nil })
    }
}
