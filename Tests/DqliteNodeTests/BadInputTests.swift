import XCTest
import LocalCluster
import Foundation
import DqliteClient
import DqliteWire
@testable import DqliteNode

/// A plain blocking TCP connection for throwing bytes at a node.
private final class RawConnection {
    let fd: Int32

    init?(port: UInt16) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    /// False once the node has closed the connection.
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count && drain()
    }

    /// Reads and drops whatever replies are waiting; false once the node has closed the connection.
    func drain() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        }
    }
}

final class BadInputTests: XCTestCase {
    /// 100 000+ random and mutated frames against a live node: it stays up and then serves a valid client.
    func testRandomAndMutatedFramesNeverTakeTheNodeDown() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freeLoopbackPort()
        let address = "127.0.0.1:\(port)"
        var s = NodeSettings()
        s.electionTimeoutMs = 300
        s.heartbeatTimeoutMs = 50
        let node = try await Node(id: 1, address: address, dir: dir, bootstrap: [(1, address)], settings: s)
        addTeardownBlock { await node.stop() }
        try await node.waitUntilLeader(timeout: .seconds(10))
        _ = try await node.execute(database: "demo", sql: "CREATE TABLE t (n INTEGER)")

        // Seeds: valid requests, except those that change membership (an unauthenticated client may, as in
        // C dqlite; that is not what this test is about).
        let seeds: [[UInt8]] = try [
            Request.leader, .client(id: 1), .heartbeat(timestamp: 1), .open(name: "demo", flags: 0, vfs: "volatile"),
            .prepare(db: 0, sql: "SELECT n FROM t WHERE n > ?", withTailOffset: false),
            .prepare(db: 0, sql: "SELECT 1; SELECT 2", withTailOffset: true),
            .exec(db: 0, statement: 0, parameters: [.integer(1)]), .query(db: 0, statement: 0, parameters: [.text("x")]),
            .finalize(db: 0, statement: 0), .execSQL(db: 0, sql: "INSERT INTO t VALUES (?)", parameters: [.integer(7)]),
            .querySQL(db: 0, sql: "SELECT count(*) FROM t", parameters: []), .interrupt(db: 0),
            .connect(id: 99, address: "127.0.0.1:1"), .dump(name: "demo"), .cluster(format: 1), .describe(format: 0), .weight(3),
        ].map { try $0.encoded() }
        let membership: Set<UInt8> = [12, 13, 14, 17]
        var rng = SystemRandomNumberGenerator()
        var sent = 0, connections = 0
        var conn: RawConnection?
        while sent < 100_000 {
            if conn == nil {
                conn = RawConnection(port: port)
                connections += 1
                let version: [UInt8] = switch connections % 10 {
                case 0: ProtocolVersion.legacy.encoded
                case 1: (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default: ProtocolVersion.v1.encoded
                }
                guard conn?.send(version) == true else { conn = nil; continue }
            }
            var frame: [UInt8]
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                // A header announcing a huge body, then a little of it and a hang-up.
                frame = [0xFF, 0xFF, 0xFF, 0x0F, UInt8.random(in: 0...20, using: &rng), 0, 0, 0] + [UInt8](repeating: 0x41, count: 100)
                _ = conn?.send(frame)
                conn = nil
                sent += 1
                continue
            case 1, 2:
                let words = UInt32.random(in: 0...8, using: &rng)
                frame = [UInt8(words), 0, 0, 0, UInt8.random(in: 0...25, using: &rng), UInt8.random(in: 0...2, using: &rng), 0, 0]
                frame += (0..<(Int(words) * 8)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default:
                frame = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 0...3, using: &rng) {
                    let at = Int.random(in: 0..<frame.count, using: &rng)
                    frame[at] ^= UInt8.random(in: 1...255, using: &rng)
                }
            }
            if frame.count > 4, membership.contains(frame[4]) { continue }
            sent += 1
            if conn?.send(frame) != true { conn = nil }
        }
        conn = nil
        print("sent \(sent) frames over \(connections) connections")

        // Still up, still the leader, still serving.
        var config = ClientConfig()
        config.leaderTimeout = .seconds(10)
        let db = try await DqliteClient(addresses: [address], config: config).open("demo")
        try await db.exec("INSERT INTO t VALUES (12345)")
        let rows = try await db.queryAll("SELECT count(*) FROM t WHERE n = 12345").rows
        XCTAssertEqual(rows, [[.integer(1)]])
    }
}
