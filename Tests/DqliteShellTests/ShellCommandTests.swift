import XCTest
import LocalCluster
import DqliteClient

/// The `dqlite` executable in one-shot and piped modes against a real 3-node dqlite cluster.
final class ShellCommandTests: XCTestCase {
    private var shell: String { CommandRunner.productsDirectory + "/dqlite" }

    private func dqlite(_ servers: [String], _ args: [String], stdin: String? = nil) async throws -> CommandResult {
        try await CommandRunner.run(shell, ["-s", servers.joined(separator: ",")] + args, stdin: stdin, timeout: .seconds(60))
    }

    func testOneShotSQLAndClusterCommands() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        let servers = cluster.addresses

        var r = try await dqlite(servers, ["demo", "CREATE TABLE t (a INTEGER, b TEXT)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        r = try await dqlite([servers[2]], ["demo", "INSERT INTO t VALUES (1, 'x'), (2, NULL)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try await dqlite(servers, ["demo", "SELECT * FROM t ORDER BY a"])
        XCTAssertEqual(r.stdout, "1|x\n2|NULL\n")
        r = try await dqlite(servers, ["-f", "json", "demo", "SELECT a, b FROM t ORDER BY a"])
        XCTAssertEqual(r.stdout, "[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":null}]\n")

        let leader = try await DqliteClient(addresses: servers).leaderAddress()
        r = try await dqlite([servers[1]], ["demo", ".leader"])
        XCTAssertEqual(r.stdout, leader + "\n")

        r = try await dqlite(servers, ["demo", ".cluster"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        XCTAssertEqual(lines.count, 3, r.stdout)
        XCTAssertEqual(Set(lines.map { $0[1] }), Set(servers))
        XCTAssertEqual(lines.map { $0[2] }, ["voter", "voter", "voter"])
        XCTAssertTrue(lines.allSatisfy { UInt64($0[0], radix: 16) != nil }, "ids in hex")

        r = try await dqlite(servers, ["demo", ".describe", servers[0]])
        XCTAssertEqual(r.stdout, "\(servers[0])|0|0\n")
    }

    func testErrorsAreOneLineWithAFailingExitCode() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        var r = try await dqlite(cluster.addresses, ["demo", "SELECT * FROM missing"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("Error: no such table: missing"), r.stderr)
        r = try await dqlite(cluster.addresses, ["demo", ".bogus"])
        XCTAssertEqual(r.status, 1)
        r = try await dqlite(["127.0.0.1:1"], ["--timeout", "0.5", "demo", ".leader"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("no leader reachable among 127.0.0.1:1"), r.stderr)
        r = try await dqlite(cluster.addresses, ["-f", "xml", "demo", "SELECT 1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown format 'xml'"), r.stderr)
    }

    func testLinesFromStandardInput() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        let r = try await dqlite(cluster.addresses, ["demo"], stdin: """
            CREATE TABLE s (v);
            INSERT INTO s VALUES (41);
            UPDATE s SET v = v + 1;
            SELECT v FROM s;
            .leader

            """)
        XCTAssertEqual(r.status, 0, r.stderr)
        let leader = try await DqliteClient(addresses: cluster.addresses).leaderAddress()
        XCTAssertEqual(r.stdout, "42\n\(leader)\n")
    }
}
