import XCTest
import Foundation
import DqliteClient
import DqliteWire
import LocalCluster
@testable import DqliteNode

/// How a node takes requests off a client connection: in order, also when a client sends several at once,
/// and with statements kept between requests that still see schema changes.
final class GatewayRequestFlowTests: XCTestCase {
    private func singleNode() async throws -> (Node, String) {
        var s = NodeSettings()
        s.electionTimeoutMs = 300
        s.heartbeatTimeoutMs = 50
        let node = try await startInProcessCluster(self, nodes: 1, settings: s)[0]
        try await node.waitUntilLeader(timeout: .seconds(10))
        return (node, node.address)
    }

    func testRequestsSentAtOnceAreAnsweredInOrder() async throws {
        let (_, address) = try await singleNode()
        let port = UInt16(address.split(separator: ":").last!)!
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(rc, 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        // Everything in one send: the handshake, then five requests, one of which waits for Raft.
        var bytes = ProtocolVersion.v1.encoded
        for r: Request in [.open(name: "demo", flags: 0, vfs: ""),
                           .execSQL(db: 0, sql: "CREATE TABLE t (n INTEGER)", parameters: []),
                           .execSQL(db: 0, sql: "INSERT INTO t VALUES (7)", parameters: []),
                           .querySQL(db: 0, sql: "SELECT n FROM t", parameters: []),
                           .leader] {
            bytes += try r.encoded()
        }
        XCTAssertEqual(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, bytes.count)

        func readExactly(_ n: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
                if r <= 0 { return nil }
                got += r
            }
            return out
        }
        var responses: [Response] = []
        for _ in 0..<5 {
            guard let h = readExactly(8), let header = try? MessageHeader.decode(h), let body = readExactly(header.bodyBytes) else {
                return XCTFail("the node stopped answering after \(responses.count) responses")
            }
            responses.append(try Response.decode(header: header, body: body))
        }
        guard case .db = responses[0], case .result = responses[1], case .result(_, 1) = responses[2],
              case .rows(let batch) = responses[3], case .server(1, address) = responses[4] else {
            return XCTFail("out of order or wrong: \(responses)")
        }
        XCTAssertEqual(batch.rows, [[.integer(7)]])
    }

    func testAKeptStatementSeesTheSchemaChange() async throws {
        let (_, address) = try await singleNode()
        let db = try await DqliteClient(addresses: [address]).open("demo")
        try await db.exec("CREATE TABLE t (a INTEGER)")
        try await db.exec("INSERT INTO t VALUES (1)")
        let prepared = try await db.prepare("SELECT * FROM t")
        let before = try await db.queryAll("SELECT * FROM t")
        XCTAssertEqual(before.columns, ["a"])
        try await db.exec("ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'")
        let after = try await db.queryAll("SELECT * FROM t")
        XCTAssertEqual(after.columns, ["a", "b"])
        XCTAssertEqual(after.rows, [[.integer(1), .text("x")]])
        // So does a statement the client prepared before the change.
        let rows = try await prepared.query()
        let again = try await rows.collect()
        XCTAssertEqual(rows.columns, ["a", "b"])
        XCTAssertEqual(again, [[.integer(1), .text("x")]])
        // Statements are kept per text; many distinct texts evict the oldest without harm.
        for i in 0..<40 { _ = try await db.queryAll("SELECT a + \(i) FROM t") }
        let last = try await db.queryAll("SELECT a + 39 FROM t").rows
        XCTAssertEqual(last, [[.integer(40)]])
    }
}
