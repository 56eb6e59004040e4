import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Userspace TCP proxies on every node-to-node link of a netns cluster (this kernel has no netem). In node A's
/// namespace, a DNAT rule sends A's connections to B's dqlite port to a proxy socket listening on A's own
/// address (port 7000 + B's id); the proxy dials B from inside A's namespace, so B still sees A's address and
/// partitions keep matching. The proxy's own connections carry a mark the DNAT rule skips. Client connections
/// come from the host, never pass A's OUTPUT chain, and are not proxied.
///
/// The proxies are in the path for the whole run (plain forwarding while no fault is set), because NAT is
/// decided when a connection starts: turning them on mid-run would miss the Raft connections already open.
public final class LinkProxies: Sendable {
    public struct Link: Sendable, Hashable {
        public var from: Int
        public var to: Int
    }

    static let mark: Int32 = 0x77
    static func port(to node: Int) -> Int { 7001 + node }

    let network: NetnsNetwork
    private let faults = Mutex<[Link: LinkFault]>([:])
    private let stopping = Atomic<Bool>(false)
    private let wake: (read: Int32, write: Int32)
    /// Listener fd → link, made before the loop starts and owned by it afterwards.
    private let listeners: [Int32: Link]
    private let namespaceFDs: [Int32]
    private let done = Mutex<Bool>(false)

    public init(network: NetnsNetwork) throws {
        self.network = network
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ChaosError.harness("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wake = (fds[0], fds[1])
        var nsFDs: [Int32] = [], listeners: [Int32: Link] = [:]
        do {
            for a in 0..<network.nodeCount {
                let ns = try NamespaceSocket.open(network.namespace(a))
                nsFDs.append(ns)
                var rules: [String] = []
                for b in 0..<network.nodeCount where b != a {
                    let fd = try NamespaceSocket.tcp(in: ns)
                    listeners[fd] = Link(from: a, to: b)
                    try NamespaceSocket.bindListen(fd, network.ip(a), Self.port(to: b))
                    rules.append("-A OUTPUT -p tcp -d \(network.ip(b))/32 --dport \(NetnsNetwork.nodePort) -m mark ! --mark \(Self.mark) "
                                 + "-j DNAT --to-destination \(network.ip(a)):\(Self.port(to: b))")
                }
                try Shell.run("ip", ["netns", "exec", network.namespace(a), Shell.path("iptables-restore"), "--noflush"],
                              input: "*nat\n" + rules.joined(separator: "\n") + "\nCOMMIT\n")
            }
        } catch {
            for fd in listeners.keys { close(fd) }
            for fd in nsFDs { close(fd) }
            close(fds[0]); close(fds[1])
            throw error
        }
        self.listeners = listeners
        namespaceFDs = nsFDs
        let loop = ProxyLoop(owner: self, listeners: listeners, namespaceFDs: nsFDs, wake: fds[0])
        let thread = Thread { loop.run() }
        thread.name = "dqlite-chaos link proxies"
        thread.start()
    }

    /// Sets the fault on these links (and clears it on the others).
    func set(_ fault: LinkFault, on links: [Link]) {
        faults.withLock { f in
            f.removeAll()
            for l in links { f[l] = fault }
        }
        poke()
    }

    func clearAll() {
        faults.withLock { $0.removeAll() }
        poke()
    }

    func fault(_ link: Link) -> LinkFault? { faults.withLock { $0[link] } }
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Stops the loop (closing every proxied connection) and waits for it. The DNAT rules go with the namespaces.
    public func stop() {
        // Once only: the wake pipe's fd is closed at the end, and a second close could hit a reused fd.
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        poke()
        for _ in 0..<200 where !done.withLock({ $0 }) { usleep(10_000) }
        if done.withLock({ $0 }) { close(wake.write) }
    }

    func loopEnded() {
        for fd in listeners.keys { close(fd) }
        for fd in namespaceFDs { close(fd) }
        close(wake.read)
        done.withLock { $0 = true }
    }

    private func poke() {
        var b: UInt8 = 1
        _ = write(wake.write, &b, 1)
    }
}
