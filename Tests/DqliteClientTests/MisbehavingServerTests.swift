import XCTest
import Foundation
import DqliteClient
import DqliteWire

/// A real listening socket (TCP on loopback or a Unix socket) whose peer does whatever a test says: stays
/// silent, sends garbage, announces a huge message. The client must fail with a typed error, in time.
final class ScriptedServer: @unchecked Sendable {
    // @unchecked: `listener` is set once in init; the accept thread only reads it.
    let address: String
    private let listener: Int32

    init(unixPath: String? = nil, reply: @escaping @Sendable (Int32) -> Void) throws {
        let listener: Int32
        if let path = unixPath {
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &sun.sun_path) { dst in for (i, b) in path.utf8.enumerated() { dst[i] = b } }
            unlink(path)
            let rc = withUnsafePointer(to: &sun) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
            address = path
        } else {
            listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let rc = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) == 0 && getsockname(listener, $0, &len) == 0 }
            }
            guard rc else { throw POSIXError(.EADDRINUSE) }
            address = "127.0.0.1:\(UInt16(bigEndian: addr.sin_port))"
        }
        self.listener = listener
        listen(listener, 8)
        let fd = listener
        Thread.detachNewThread {
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                Thread.detachNewThread {
                    reply(c)
                    close(c)
                }
            }
        }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Reads `n` bytes (the handshake, a request) or returns early at EOF.
    static func read(_ fd: Int32, _ n: Int) {
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r <= 0 { return }
            got += r
        }
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

final class MisbehavingServerTests: XCTestCase {
    private func config(timeout: Duration = .milliseconds(300)) -> ClientConfig {
        var c = ClientConfig()
        c.dialTimeout = .seconds(2)
        c.requestTimeout = timeout
        c.maxMessageBytes = 1 << 20
        return c
    }

    func testASilentServerTimesOutWithAnUnknownOutcome() async throws {
        let server = try ScriptedServer { fd in
            ScriptedServer.read(fd, 8 + 16)
            sleep(3)
        }
        let node = NodeClient(connection: try await WireConnection.dial(server.address, timeout: .seconds(2)), timeout: .milliseconds(300))
        let start = ContinuousClock.now
        do {
            _ = try await node.leader()
            XCTFail("no reply was sent")
        } catch {
            XCTAssertEqual(error, .timeout(address: server.address, requestSent: true))
            XCTAssertEqual(error.outcome, .mayHaveHappened)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        // The connection is now unusable, and says so without sending anything.
        do {
            _ = try await node.leader()
            XCTFail("a timed-out connection must not be reused")
        } catch {
            XCTAssertEqual(error.kind, .connection)
            XCTAssertEqual(error.outcome, .didNotHappen)
        }
    }

    func testAnOversizedMessageIsRefusedBeforeItIsRead() async throws {
        let server = try ScriptedServer { fd in
            ScriptedServer.read(fd, 8 + 16)
            // A SERVER reply claiming 2^32-1 words (32 GiB).
            ScriptedServer.write(fd, [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0])
            sleep(2)
        }
        let node = NodeClient(connection: try await WireConnection.dial(server.address, timeout: .seconds(2), maxMessageBytes: 1 << 20),
                              timeout: .seconds(2))
        do {
            _ = try await node.leader()
            XCTFail("a 32 GiB message must be refused")
        } catch {
            XCTAssertEqual(error.kind, .protocolError)
            XCTAssertTrue(error.description.contains("oversized"), error.description)
        }
    }

    func testGarbageRepliesAreProtocolErrors() async throws {
        let server = try ScriptedServer { fd in
            ScriptedServer.read(fd, 8 + 16)
            ScriptedServer.write(fd, [2, 0, 0, 0, 1, 0, 0, 0] + Array(repeating: 0x41, count: 16))  // no NUL in the address
        }
        let node = NodeClient(connection: try await WireConnection.dial(server.address, timeout: .seconds(2)), timeout: .seconds(2))
        do {
            _ = try await node.leader()
            XCTFail("garbage must not decode")
        } catch {
            XCTAssertEqual(error.kind, .protocolError)
        }
    }

    func testAServerThatHangsUpMidReplyLosesTheConnection() async throws {
        let server = try ScriptedServer { fd in
            ScriptedServer.read(fd, 8 + 16)
            ScriptedServer.write(fd, [3, 0, 0, 0, 1, 0, 0, 0, 1])
        }
        let node = NodeClient(connection: try await WireConnection.dial(server.address, timeout: .seconds(2)), timeout: .seconds(2))
        do {
            _ = try await node.leader()
            XCTFail("the reply was cut")
        } catch {
            XCTAssertEqual(error.kind, .connection)
            XCTAssertEqual(error.outcome, .mayHaveHappened)
        }
    }

    func testUnixSocketsAndALeaderThatIsItself() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dq-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        defer { unlink(path) }
        let server = try ScriptedServer(unixPath: path) { fd in
            ScriptedServer.read(fd, 8 + 16)  // handshake + LEADER
            ScriptedServer.write(fd, try! Response.server(id: 1, address: path).encoded())
            ScriptedServer.read(fd, 16)  // CLIENT
            ScriptedServer.write(fd, try! Response.welcome(heartbeatTimeout: 15000).encoded())
            ScriptedServer.read(fd, 16)  // LEADER again
            ScriptedServer.write(fd, try! Response.server(id: 1, address: path).encoded())
        }
        let client = try DqliteClient(addresses: [server.address], config: config(timeout: .seconds(2)))
        let node = try await client.connectToLeader()
        XCTAssertEqual(node.address, path)
        let leader = try await node.leader()
        XCTAssertEqual(leader?.id, 1)
        node.close()
    }
}
