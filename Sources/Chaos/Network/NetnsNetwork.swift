import Foundation
import LocalCluster
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One run's network in netns mode (jepsen.dqlite's layout): a Linux bridge on the host side, and per node a
/// network namespace joined to it by a veth pair, with an address in 10.77.<subnet>.0/24 that exists only in
/// there. The harness reaches every node through the bridge's address (.254), so clients are never cut by
/// partitions, which drop node-to-node packets only.
///
/// Names carry the owning pid (`dqc-<pid><letter>`, short enough for 15-character interface names), so a
/// later run removes what a crashed one left, and only when that pid is dead.
public final class NetnsNetwork: Sendable {
    public let prefix: String
    /// The third octet of the run's 10.77.x.0/24.
    public let subnet: Int
    public let nodeCount: Int
    /// Nodes listen on this port, each on its own address.
    public static let nodePort = 9001

    public var bridge: String { prefix + "br" }
    public var hostIP: String { "10.77.\(subnet).254" }
    /// 0-based node index → its namespace, address and veth ends.
    public func namespace(_ i: Int) -> String { "\(prefix)-n\(i + 1)" }
    public func ip(_ i: Int) -> String { "10.77.\(subnet).\(i + 1)" }
    public func address(_ i: Int) -> String { "\(ip(i)):\(Self.nodePort)" }
    func hostVeth(_ i: Int) -> String { "\(prefix)h\(i + 1)" }
    func nodeVeth(_ i: Int) -> String { "\(prefix)v\(i + 1)" }

    /// Where ProcessCluster puts the nodes: each on its address, started inside its namespace.
    public var placement: ProcessCluster.Placement {
        let ipTool = Shell.path("ip")
        return ProcessCluster.Placement(
            address: { [self] i in
                guard i < nodeCount else { throw ChaosError.harness("the netns network has \(nodeCount) nodes, not \(i + 1)") }
                return address(i)
            },
            // `ip netns exec` execs the node itself (no fork), so signals reach the node's pid directly.
            launcher: { [self] i in [ipTool, "netns", "exec", namespace(i)] })
    }

    private static let sequence = Mutex(0)

    private init(prefix: String, subnet: Int, nodeCount: Int) {
        self.prefix = prefix
        self.subnet = subnet
        self.nodeCount = nodeCount
    }

    /// Whether netns mode can run here: root, and `ip netns` answers.
    public static var available: Bool {
        guard geteuid() == 0 else { return false }
        return (try? Shell.run("ip", ["netns", "list"])) != nil
    }

    /// Creates the bridge and `nodes` namespaces. Removes itself again if any step fails; registered for removal
    /// on Ctrl-C until `remove()`.
    public static func create(nodes: Int) throws -> NetnsNetwork {
        guard geteuid() == 0 else { throw ChaosError.harness("isolation netns needs root (run as root, or use isolation: loopback)") }
        reapStale()
        let letter = sequence.withLock { n in
            defer { n += 1 }
            return Character(UnicodeScalar(UInt8(97 + n % 26)))
        }
        // The subnet is chosen and claimed (the bridge gets its address) under a lock, so two runs started at
        // once cannot take the same one.
        let lock = open("/tmp/dqlite-chaos-netns.lock", O_CREAT | O_RDWR, 0o644)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        let used = usedSubnets()
        let start = Int(getpid() % 250)
        guard let subnet = (0..<250).map({ 1 + (start + $0) % 250 }).first(where: { !used.contains($0) }) else {
            throw ChaosError.harness("no free subnet in 10.77.1-250.0/24")
        }
        let net = NetnsNetwork(prefix: "dqc-\(getpid())\(letter)", subnet: subnet, nodeCount: nodes)
        InterruptCleanup.register(net.prefix) { net.remove() }
        do {
            try net.build()
        } catch {
            net.remove()
            throw error
        }
        return net
    }

    private func build() throws {
        var batch = ["link add \(bridge) type bridge", "addr add \(hostIP)/24 dev \(bridge)", "link set \(bridge) up"]
        for i in 0..<nodeCount {
            batch += ["netns add \(namespace(i))",
                      "link add \(hostVeth(i)) type veth peer name \(nodeVeth(i)) netns \(namespace(i))",
                      "link set \(hostVeth(i)) master \(bridge) up"]
        }
        try Shell.run("ip", ["-batch", "-"], input: batch.joined(separator: "\n") + "\n")
        for i in 0..<nodeCount {
            try Shell.run("ip", ["-n", namespace(i), "-batch", "-"], input: """
                addr add \(ip(i))/24 dev \(nodeVeth(i))
                link set \(nodeVeth(i)) up
                link set lo up

                """)
        }
    }

    /// Kills whatever still runs in the namespaces, then removes the veths, the bridge and the namespaces (and
    /// with them every rule inside). Idempotent; errors are ignored so one missing object stops nothing else.
    public func remove() {
        Self.remove(prefix: prefix, namespaces: (0..<nodeCount).map(namespace), links: (0..<nodeCount).map(hostVeth) + [bridge])
        InterruptCleanup.unregister(prefix)
    }

    private static func remove(prefix: String, namespaces: [String], links: [String]) {
        for ns in namespaces {
            let pids = ((try? Shell.run("ip", ["netns", "pids", ns])) ?? "").split(whereSeparator: \.isNewline).compactMap { Int32($0) }
            for pid in pids { kill(pid, SIGKILL) }
        }
        // Deleting a namespace frees its veth end lazily; deleting the host end first removes both at once.
        let batch = links.map { "link del \($0)" } + namespaces.map { "netns del \($0)" }
        _ = try? Shell.run("ip", ["-force", "-batch", "-"], input: batch.joined(separator: "\n") + "\n")
    }

    /// Removes the namespaces and links of earlier runs whose owning process is dead.
    public static func reapStale() {
        let namespaces = ((try? Shell.run("ip", ["netns", "list"])) ?? "").split(whereSeparator: \.isNewline)
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        let links = ((try? Shell.run("ip", ["-o", "link", "show"])) ?? "").split(whereSeparator: \.isNewline)
            .compactMap { line -> String? in
                let fields = line.split(separator: " ")
                guard fields.count > 1 else { return nil }
                return String(fields[1].split(separator: "@").first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: ":"))
            }
        var stale: [String: (namespaces: [String], links: [String])] = [:]
        for ns in namespaces { if let p = deadOwnerPrefix(ns) { stale[p, default: ([], [])].namespaces.append(ns) } }
        for link in links { if let p = deadOwnerPrefix(link) { stale[p, default: ([], [])].links.append(link) } }
        for (prefix, objects) in stale {
            // Host veth ends before the bridge, as remove() does.
            remove(prefix: prefix, namespaces: objects.namespaces, links: objects.links.sorted { !$0.hasSuffix("br") && $1.hasSuffix("br") })
        }
    }

    /// "dqc-<pid><letter>" of a name made by this scheme whose pid no longer runs; nil otherwise.
    static func deadOwnerPrefix(_ name: String) -> String? {
        guard name.hasPrefix("dqc-") else { return nil }
        let digits = name.dropFirst(4).prefix { $0.isNumber }
        guard let pid = Int32(digits), let letter = name.dropFirst(4 + digits.count).first, letter.isLowercase else { return nil }
        guard !isAlive(pid) else { return nil }
        return "dqc-\(digits)\(letter)"
    }

    /// A zombie counts as dead: a harness killed with SIGKILL whose parent has not reaped it yet still answers
    /// kill(pid, 0).
    private static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[close...].dropFirst(2).first != "Z"
    }

    /// Third octets of 10.77.x.0/24 addresses already on this host's interfaces.
    private static func usedSubnets() -> Set<Int> {
        let text = (try? Shell.run("ip", ["-o", "-4", "addr", "show"])) ?? ""
        var used: Set<Int> = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix("10.77.") {
            let parts = word.split(separator: ".")
            if parts.count >= 3, let x = Int(parts[2]) { used.insert(x) }
        }
        return used
    }
}
