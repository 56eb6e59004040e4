import Foundation
import Synchronization
import XCTest
@testable import Chaos
#if canImport(Glibc)
import Glibc
#endif

/// Real namespaces, veths, bridge and iptables rules (root only): partitions drop node-to-node traffic and
/// nothing else, healing restores it, the link proxies carry peer traffic, and everything is removed.
final class NetnsTests: XCTestCase {
    override func setUp() async throws {
        guard geteuid() == 0 else { throw XCTSkip("network namespaces need root") }
        guard NetnsNetwork.available else { throw XCTSkip("`ip netns` does not work here") }
    }

    func testAPartitionDropsNodeTrafficOnlyAndHealingRestoresIt() async throws {
        let net = try NetnsNetwork.create(nodes: 3)
        var removed = false
        defer { if !removed { net.remove() } }
        var listeners: [Int32] = []
        defer { listeners.forEach { close($0) } }
        for i in 0..<3 {
            let ns = try NamespaceSocket.open(net.namespace(i))
            defer { close(ns) }
            let fd = try NamespaceSocket.tcp(in: ns)
            try NamespaceSocket.bindListen(fd, net.ip(i), NetnsNetwork.nodePort)
            listeners.append(fd)
        }
        for (a, b) in [(0, 1), (1, 0), (2, 1), (0, 2)] { XCTAssertTrue(try connects(net, from: a, to: b), "n\(a + 1) -> n\(b + 1) before") }

        let nemesis = NetworkNemesis(network: net, proxies: nil)
        let fault = PlannedFault(atS: 0, type: .partition, target: .one, forS: 1, shape: .isolate)
        let applied = try await nemesis.apply(fault, id: 0, center: 1, leader: nil)
        XCTAssertEqual(applied.groups, [[2], [1, 3]])
        XCTAssertTrue(applied.detail.contains(#""shape":"isolate","groups":[[2],[1,3]]"#), applied.detail)
        for (a, b) in [(0, 1), (1, 0), (2, 1), (1, 2)] { XCTAssertFalse(try connects(net, from: a, to: b), "n\(a + 1) -> n\(b + 1) cut") }
        XCTAssertTrue(try connects(net, from: 0, to: 2), "n1 -> n3 is on the same side")
        for i in 0..<3 { XCTAssertTrue(try connects(net, from: nil, to: i), "the harness still reaches n\(i + 1)") }
        let rules = await nemesis.rulesInForce
        XCTAssertEqual(rules.mapValues(\.count), [0: 1, 1: 2, 2: 1])

        // A partition by groups on top: the cuts add up, and each heals only its own.
        var byGroups = PlannedFault(atS: 0, type: .partition, target: .one, forS: 1)
        byGroups.groups = [[1, 2]]
        let second = try await nemesis.apply(byGroups, id: 1, center: 0, leader: nil)
        XCTAssertEqual(second.groups, [[1, 2], [3]])
        XCTAssertTrue(second.detail.contains(#""shape":"groups","groups":[[1,2],[3]]"#), second.detail)
        XCTAssertFalse(try connects(net, from: 0, to: 2), "n1 -> n3 cut by the groups")
        _ = await nemesis.heal(0)
        XCTAssertTrue(try connects(net, from: 0, to: 1), "n1 -> n2 back once the isolation healed")
        XCTAssertFalse(try connects(net, from: 0, to: 2), "n1 -> n3 still cut by the groups")
        _ = await nemesis.heal(1)
        for (a, b) in [(0, 1), (1, 0), (2, 1), (1, 2), (0, 2)] { XCTAssertTrue(try connects(net, from: a, to: b), "n\(a + 1) -> n\(b + 1) healed") }
        for i in 0..<3 {
            let left = try Shell.run("ip", ["netns", "exec", net.namespace(i), Shell.path("iptables"), "-S", "INPUT"])
            XCTAssertFalse(left.contains("DROP"), "healing removed n\(i + 1)'s rules: \(left)")
        }

        net.remove()
        removed = true
        let namespaces = try Shell.run("ip", ["netns", "list"]), links = try Shell.run("ip", ["-o", "link", "show"])
        XCTAssertFalse(namespaces.contains(net.prefix), namespaces)
        XCTAssertFalse(links.contains(net.prefix), links)
        XCTAssertFalse(try Shell.run("ip", ["-o", "-4", "addr", "show"]).contains(net.hostIP))
    }

    func testLinkProxiesCarryPeerTrafficAndDelayOrCutIt() async throws {
        let net = try NetnsNetwork.create(nodes: 2)
        defer { net.remove() }
        let proxies = try LinkProxies(network: net)
        defer { proxies.stop() }
        let server = try EchoServer(net, node: 1)
        defer { server.stop() }

        // Plain forwarding: fast, and the peer sees n1's own address (partitions keep matching).
        XCTAssertLessThan(try roundTrip(net, from: 0, to: 1), 0.2)
        XCTAssertEqual(server.peers.withLock { $0 }.last, net.ip(0))

        proxies.set(LinkFault(delayMs: 300), on: [.init(from: 0, to: 1)])
        let slow = try roundTrip(net, from: 0, to: 1)
        XCTAssertGreaterThanOrEqual(slow, 0.55, "300 ms each way: n1's connection to n2 goes through the proxy")
        proxies.set(LinkFault(delayMs: 300), on: [.init(from: 1, to: 0)])
        XCTAssertLessThan(try roundTrip(net, from: 0, to: 1), 0.2, "only the links named are slowed")

        proxies.set(LinkFault(lossPct: 100), on: [.init(from: 0, to: 1)])
        XCTAssertThrowsError(try roundTrip(net, from: 0, to: 1), "a lost link cuts the connection")

        proxies.clearAll()
        XCTAssertLessThan(try roundTrip(net, from: 0, to: 1), 0.2)
    }

    /// Whether a TCP connection from node `from`'s namespace (nil: the host) to node `to` completes in 0.5 s.
    private func connects(_ net: NetnsNetwork, from: Int?, to: Int) throws -> Bool {
        let fd: Int32
        if let from {
            let ns = try NamespaceSocket.open(net.namespace(from))
            defer { close(ns) }
            fd = try NamespaceSocket.tcp(in: ns)
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        defer { close(fd) }
        guard NamespaceSocket.connect(fd, net.ip(to), NetnsNetwork.nodePort) else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 500) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(4)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }

    /// Seconds for one byte to go from node `from` to node `to`'s echo server and back (blocking, 3 s limit).
    private func roundTrip(_ net: NetnsNetwork, from: Int, to: Int) throws -> Double {
        let ns = try NamespaceSocket.open(net.namespace(from))
        defer { close(ns) }
        let fd = try NamespaceSocket.tcp(in: ns)
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let start = ContinuousClock.now
        guard NamespaceSocket.connect(fd, net.ip(to), NetnsNetwork.nodePort) else { throw ChaosError.harness("connect") }
        var b: UInt8 = 42
        guard send(fd, &b, 1, Int32(MSG_NOSIGNAL)) == 1, recv(fd, &b, 1, 0) == 1, b == 42 else { throw ChaosError.harness("no echo") }
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Echoes bytes on node `node`'s dqlite port, remembering each connection's peer address.
private final class EchoServer: Sendable {
    let fd: Int32
    let peers = Mutex<[String]>([])

    init(_ net: NetnsNetwork, node: Int) throws {
        let ns = try NamespaceSocket.open(net.namespace(node))
        defer { close(ns) }
        fd = try NamespaceSocket.tcp(in: ns)
        try NamespaceSocket.bindListen(fd, net.ip(node), NetnsNetwork.nodePort)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let listener = fd
        let thread = Thread { [self] in
            while true {
                var addr = sockaddr_in()
                var len = socklen_t(MemoryLayout<sockaddr_in>.size)
                let c = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &len) } }
                guard c >= 0 else { return }
                self.peers.withLock { $0.append(String(cString: inet_ntoa(addr.sin_addr))) }
                Thread {
                    var buf = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = read(c, &buf, buf.count)
                        if n <= 0 || send(c, buf, n, Int32(MSG_NOSIGNAL)) != n { break }
                    }
                    close(c)
                }.start()
            }
        }
        thread.start()
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
