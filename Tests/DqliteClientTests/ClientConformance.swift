import XCTest
import DqliteClient
import DqliteWire
import LocalCluster

/// One body of client tests, run against a real 3-node dqlite cluster (Debian's dqlite-demo: go-dqlite over
/// C dqlite 1.11) and against a cluster of our dqlite-node processes: the same client, the same assertions.
struct ClientConformance {
    let kind: ProcessCluster.Kind
    let test: XCTestCase

    private func startCluster(nodes: Int = 3) async throws -> ProcessCluster {
        let cluster = try await ProcessCluster.start(nodes: nodes, kind: kind)
        test.addTeardownBlock { await cluster.stop() }
        return cluster
    }

    private func fastConfig() -> ClientConfig {
        var c = ClientConfig()
        c.dialTimeout = .seconds(2)
        c.requestTimeout = .seconds(10)
        c.leaderTimeout = .seconds(20)
        c.retry.deadline = .seconds(30)
        return c
    }

    func findsTheLeaderFromAnyNode() async throws {
        let cluster = try await startCluster()
        let expected = try await DqliteClient(addresses: cluster.addresses).leaderAddress()
        for address in cluster.addresses {
            // A store holding only this node: a follower points at the leader, which must confirm itself.
            let found = try await DqliteClient(addresses: [address], config: fastConfig()).leaderAddress()
            XCTAssertEqual(found, expected, "asked \(address)")
        }
    }

    func tenThousandRowsOfEveryTypeRoundTripAcrossManyBatches() async throws {
        let cluster = try await startCluster()
        let db = try await DqliteClient(addresses: cluster.addresses, config: fastConfig()).open("demo")
        try await db.exec("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, d DATETIME, iso DATETIME, ok BOOLEAN)
            """)
        let insert = try await db.prepare("INSERT INTO t (id, i, f, s, b, n, d, iso, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        XCTAssertEqual(insert.parameterCount, 9)
        @Sendable func row(_ k: Int) -> [Value] {
            [.integer(Int64(k)), .integer(Int64(k) * -7919), .float(Double(k) / 3), .text("row \(k) ✓"),
             .blob((0..<(k % 17)).map { UInt8(($0 + k) & 0xFF) }), .null, .integer(1_700_000_000 + Int64(k)),
             .text("2024-05-06 07:08:09"), .boolean(k % 2 == 0)]
        }
        for batch in 0..<50 {
            try await db.transaction { tx in
                for k in (batch * 200)..<(batch * 200 + 200) { try await insert.exec(row(k)) }
            }
        }
        let rows = try await db.query("SELECT id, i, f, s, b, n, d, iso, ok FROM t ORDER BY id")
        XCTAssertEqual(rows.columns, ["id", "i", "f", "s", "b", "n", "d", "iso", "ok"])
        var count = 0
        for try await values in rows {
            let k = count
            var expected = row(k)
            // The server types columns by declaration: DATETIME integers come back as UNIXTIME, DATETIME text
            // as ISO8601, BOOLEAN as boolean.
            expected[6] = .unixTime(1_700_000_000 + Int64(k))
            expected[7] = .iso8601("2024-05-06 07:08:09")
            if values != expected { XCTFail("row \(k): \(values) != \(expected)"); break }
            count += 1
        }
        XCTAssertEqual(count, 10_000)
        let sum = try await db.queryAll("SELECT count(*), sum(i) FROM t")
        XCTAssertEqual(sum.rows, [[.integer(10_000), .integer(-7919 * (9999 * 10_000 / 2))]])
        await db.close()
    }

    func closingACursorEarlyLeavesTheConnectionUsable() async throws {
        let cluster = try await startCluster()
        let db = try await DqliteClient(addresses: cluster.addresses, config: fastConfig()).open("demo")
        try await db.exec("CREATE TABLE big (k INTEGER, v TEXT)")
        try await db.transaction { tx in
            for k in 0..<3000 { try await tx.exec("INSERT INTO big VALUES (?, ?)", [.integer(Int64(k)), .text(String(repeating: "v", count: 100))]) }
        }
        let rows = try await db.query("SELECT k, v FROM big ORDER BY k")
        var it = rows.makeAsyncIterator()
        for k in 0..<10 {
            let next = try await it.next()
            XCTAssertEqual(next?.first, .integer(Int64(k)))
        }
        try await rows.close()
        // Prepared queries stream the same way; a finalized statement is prepared again if used again.
        let lookup = try await db.prepare("SELECT v FROM big WHERE k = ?")
        let found = try await lookup.query([.integer(5)]).collect()
        XCTAssertEqual(found, [[.text(String(repeating: "v", count: 100))]])
        try await lookup.finalize()
        let again = try await lookup.query([.integer(6)]).collect()
        XCTAssertEqual(again.count, 1)
        // The stream is gone: rows already buffered may still be read, but the result never looks complete.
        do {
            var read = 10
            while try await it.next() != nil { read += 1 }
            XCTFail("a closed result ended as if complete after \(read) rows")
        } catch let e as DqliteError {
            XCTAssertEqual(e.kind, .usage)
        }
        // The next requests on the connection work.
        let got1 = try await db.queryAll("SELECT count(*) FROM big").rows
        XCTAssertEqual(got1, [[.integer(3000)]])
        // A result abandoned without close is interrupted by the next request.
        _ = try await db.query("SELECT k FROM big")
        let got2 = try await db.exec("INSERT INTO big VALUES (1, 'x')").rowsAffected
        XCTAssertEqual(got2, 1)
    }

    func aFollowerRefusesWritesWithNotLeader() async throws {
        let cluster = try await startCluster()
        let leader = try await DqliteClient(addresses: cluster.addresses).leaderAddress()
        let follower = try XCTUnwrap(cluster.addresses.first { $0 != leader })
        let node = try await NodeClient.connect(to: follower)
        defer { node.close() }
        let reported = try await node.leader()
        XCTAssertEqual(reported?.address, leader, "a follower reports the leader")
        // dqlite 1.11 opens the database on a follower and refuses the write; later dqlite (and our node)
        // refuses the OPEN itself. Either way the answer is 10250.
        var reply = try await node.connection.call(.open(name: "demo", flags: 0, vfs: "volatile"), timeout: .seconds(5))
        if case .db(let db) = reply {
            reply = try await node.connection.call(.execSQL(db: UInt64(db), sql: "CREATE TABLE x (a)", parameters: []), timeout: .seconds(5))
        }
        guard case let .failure(code, message) = reply else { return XCTFail("expected FAILURE, got \(reply)") }
        XCTAssertEqual(code, ErrorCode.notLeader, message)
        let error = DqliteError.server(code: code, message: message)
        XCTAssertEqual(error.kind, .notLeader)
        XCTAssertEqual(error.outcome, .didNotHappen)
        XCTAssertTrue(error.isRetryable)
    }

    func clusterAndAdminRequests() async throws {
        let cluster = try await startCluster()
        let client = try DqliteClient(addresses: cluster.addresses, config: fastConfig())
        let members = try await client.cluster()
        XCTAssertEqual(Set(members.map(\.address)), Set(cluster.addresses))
        XCTAssertEqual(members.map(\.knownRole), [.voter, .voter, .voter])
        XCTAssertEqual(Set(members.map(\.id)).count, 3)

        // A spare that never runs can be added and removed without touching the quorum.
        let ghost = "127.0.0.1:\(try freeLoopbackPort())"
        try await client.withLeader { c throws(DqliteError) in try await c.add(id: 4242, address: ghost) }
        var now = try await client.cluster()
        XCTAssertEqual(now.first { $0.id == 4242 }?.knownRole, .spare)
        try await client.withLeader { c throws(DqliteError) in try await c.remove(id: 4242) }
        now = try await client.cluster()
        XCTAssertNil(now.first { $0.id == 4242 })

        // Describe, weight and dump act on the node dialled.
        let node = try await client.node(cluster.addresses[1])
        defer { node.close() }
        try await node.setWeight(7)
        let got3 = try await node.describe().weight
        XCTAssertEqual(got3, 7)
        let db = try await client.open("demo")
        try await db.exec("CREATE TABLE d (a); INSERT INTO d VALUES (1)")
        let files = try await client.withLeader { c throws(DqliteError) in try await c.dump(database: "demo") }
        XCTAssertEqual(files.map(\.name), ["demo", "demo-wal"])
        XCTAssertEqual(Array(files[0].content.prefix(15)), Array("SQLite format 3".utf8))

        // Leadership transfer moves the leader; the client follows.
        let before = try await client.leaderAddress()
        try await client.withLeader { c throws(DqliteError) in try await c.transfer(to: 0) }
        let after = try await client.leaderAddress()
        XCTAssertNotEqual(before, after)
        let got4 = try await db.queryAll("SELECT a FROM d").rows
        XCTAssertEqual(got4, [[.integer(1)]])
    }

    func assignMovesAFourthNodeBetweenRoles() async throws {
        let cluster = try await startCluster(nodes: 4)
        let client = try DqliteClient(addresses: cluster.addresses, config: fastConfig())
        let members = try await client.cluster()
        let extra = try XCTUnwrap(members.first { $0.knownRole != .voter })
        for role in [NodeRole.spare, .standBy, .spare] {
            try await client.withLeader { c throws(DqliteError) in try await c.assign(id: extra.id, role: role) }
            let now = try await client.cluster().first { $0.id == extra.id }
            XCTAssertEqual(now?.knownRole, role)
        }
    }

    func survivesSigkillOfTheLeader() async throws {
        let cluster = try await startCluster()
        let db = try await DqliteClient(addresses: cluster.addresses, config: fastConfig()).open("demo")
        try await db.exec("CREATE TABLE k (n INTEGER)")
        for n in 0..<10 { try await db.exec("INSERT INTO k VALUES (?)", [.integer(Int64(n))]) }
        let oldLeader = try await cluster.leaderIndex()
        await cluster.kill(oldLeader)
        let killedAt = ContinuousClock.now
        // The next write finds the new leader (retrying "not leader" / refused connections on the way).
        try await db.exec("INSERT INTO k VALUES (?)", [.integer(10)])
        let elapsed = ContinuousClock.now - killedAt
        let newLeader = await db.leaderAddress
        XCTAssertNotEqual(newLeader, cluster.nodes[oldLeader].address)
        let got5 = try await db.queryAll("SELECT count(*) FROM k").rows
        XCTAssertEqual(got5, [[.integer(11)]])
        print("new leader \(newLeader ?? "?") reached \(elapsed) after SIGKILL")
    }
}
