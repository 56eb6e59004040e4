import Checker
import DqliteClient
import DqliteWire
import Foundation
import LocalCluster
import XCTest

/// `dqlite-node --metrics`: the leader's Prometheus endpoint, scraped under load, moves as the load says.
final class MetricsProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    /// The samples of a Prometheus text page, by series (`name{labels}`).
    private func scrape(_ address: String) async throws -> [String: Double] {
        let r = try await CommandRunner.run("/usr/bin/curl", ["-s", "--max-time", "10", "http://\(address)/metrics"], timeout: .seconds(20))
        XCTAssertEqual(r.status, 0, r.stderr)
        return MetricsSample.parse(exposition: Substring(r.stdout))  // the bed's parser: the node's series, no buckets
    }

    func testTheLeadersCountersMoveAsTheLoadSays() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl")
        let ports = try (0..<3).map { _ in try freeLoopbackPort() }
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary),
                                                     nodeFlags: { ["--metrics", "127.0.0.1:\(ports[$0])"] })
        addTeardownBlock { await cluster.stop() }
        let leader = try await cluster.leaderIndex()
        let endpoint = "127.0.0.1:\(ports[leader])"
        let db = try await DqliteClient(addresses: await cluster.addresses).open("metrics")
        try await db.exec("CREATE TABLE t (n INTEGER)")
        try await Task.sleep(for: .milliseconds(1100))  // a sample of the gauges
        let before = try await scrape(endpoint)
        for i in 0..<200 { try await db.exec("INSERT INTO t VALUES (?)", [.integer(Int64(i))]) }
        for _ in 0..<100 { _ = try await db.queryAll("SELECT count(*) FROM t") }
        _ = try? await db.exec("INSERT INTO no_such_table VALUES (1)")
        try await Task.sleep(for: .milliseconds(1100))
        let after = try await scrape(endpoint)
        func delta(_ series: String) -> Double { (after[series] ?? 0) - (before[series] ?? 0) }

        XCTAssertEqual(delta(#"dqlite_requests_total{type="exec_sql"}"#), 201, "200 inserts and the failed one")
        XCTAssertEqual(delta(#"dqlite_requests_total{type="query_sql"}"#), 100)
        XCTAssertEqual(delta(#"dqlite_request_errors_total{code="1"}"#), 1, "the statement on a missing table (SQLITE_ERROR)")
        XCTAssertEqual(delta("dqlite_committed_transactions_total"), 200)
        XCTAssertGreaterThanOrEqual(delta("dqlite_commit_duration_seconds_count"), 1)
        XCTAssertLessThanOrEqual(delta("dqlite_commit_duration_seconds_count"), 200, "one timing per entry; entries group transactions")
        XCTAssertEqual(delta(#"dqlite_request_duration_seconds_count{type="query_sql"}"#), 100)
        XCTAssertGreaterThan(after["dqlite_raft_commit_index"] ?? 0, before["dqlite_raft_commit_index"] ?? 0)
        XCTAssertGreaterThanOrEqual(after["dqlite_raft_applied_index"] ?? 0, (after["dqlite_raft_commit_index"] ?? 0) - 5)
        XCTAssertGreaterThanOrEqual(after["dqlite_raft_term"] ?? 0, 1)
        XCTAssertEqual(after["dqlite_raft_state"], 3, "C-Raft's RAFT_LEADER")
        XCTAssertEqual(after["dqlite_role"], 0, "a voter")
        XCTAssertGreaterThanOrEqual(after["dqlite_connections"] ?? 0, 1)
        XCTAssertGreaterThan(after["dqlite_database_bytes"] ?? 0, 0)
        XCTAssertGreaterThan(after["dqlite_raft_log_bytes"] ?? 0, 0)
        XCTAssertEqual(after["dqlite_snapshot_compressed"], 1, "snapshots are compressed by default")
        // A follower reports itself as one.
        let follower = (0..<3).first { $0 != leader }!
        let f = try await scrape("127.0.0.1:\(ports[follower])")
        XCTAssertEqual(f["dqlite_raft_state"], 1, "C-Raft's RAFT_FOLLOWER")
        XCTAssertEqual(f[#"dqlite_requests_total{type="exec_sql"}"#] ?? 0, 0, "writes went to the leader")
    }

    /// dqlite_memory_bytes{part}: the database's pages, the WAL, the entries C-Raft keeps in memory, SQLite's
    /// heap and malloc's, next to the resident size; sampled every 5 s.
    func testTheMemoryBreakdownAccountsForTheDatabaseAndTheRaftLog() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl")
        let port = try freeLoopbackPort()
        let cluster = try await ProcessCluster.start(nodes: 1, kind: .swiftNode(executable: nodeBinary, arguments: ["--no-log-compression"]),
                                                     nodeFlags: { _ in ["--metrics", "127.0.0.1:\(port)"] })
        addTeardownBlock { await cluster.stop() }
        let db = try await DqliteClient(addresses: await cluster.addresses).open("memory")
        try await db.exec("CREATE TABLE t (n INTEGER, v BLOB)")
        for i in 0..<400 { try await db.exec("INSERT INTO t VALUES (?, randomblob(5000))", [.integer(Int64(i))]) }
        try await Task.sleep(for: .milliseconds(5300))  // the next sample of the breakdown
        let m = try await scrape("127.0.0.1:\(port)")
        func part(_ p: String) -> Double { m["dqlite_memory_bytes{part=\"\(p)\"}"] ?? -1 }
        let written = 400.0 * 5000
        XCTAssertGreaterThan(part("database_pages") + part("wal"), written, "the rows' pages are held by the VFS")
        XCTAssertGreaterThan(part("raft_log_entries"), written, "no snapshot yet: every entry since the start is in memory")
        XCTAssertLessThan(part("raft_log_entries"), 3 * written)
        XCTAssertEqual(part("snapshot_encoding"), 0, "no snapshot under way")
        XCTAssertGreaterThan(part("sqlite_heap"), 0)
        XCTAssertGreaterThan(part("malloc_in_use"), part("database_pages"))
        XCTAssertGreaterThanOrEqual(part("malloc_free"), 0)
        XCTAssertGreaterThan(part("resident"), part("database_pages") + part("raft_log_entries"))
    }
}
