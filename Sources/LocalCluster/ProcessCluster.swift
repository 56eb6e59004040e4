import Foundation
import DqliteClient
import DqliteWire

/// A cluster of node processes on loopback, each with free ports and its own temp dir: real dqlite (N
/// processes of Debian's `dqlite-demo`, go-dqlite's app over C dqlite 1.11) or ours (`dqlite-node`).
/// Everything it starts it stops by pid, and it removes its dirs; processes left by a crashed earlier run
/// are found through their pid files and stopped too.
public actor ProcessCluster {
    /// Which node program runs.
    public enum Kind: Sendable {
        /// Debian's dqlite-demo (`DQLITE_DEMO` overrides the path).
        case realDqlite
        /// Our dqlite-node at this path, with Raft timeouts short enough for tests.
        case swiftNode(executable: String, arguments: [String] = [])
        /// Any program that serves dqlite's wire protocol, started from a template (`CommandTemplate`).
        case command(CommandTemplate)
    }

    public struct Node: Sendable {
        public let index: Int
        /// The dqlite address clients and peers use.
        public let address: String
        /// The demo's HTTP key/value API.
        public let apiAddress: String
        public let dir: String
    }

    /// The nodes the cluster started with.
    public nonisolated let nodes: [Node]
    /// Nodes added later with `addNode`.
    public private(set) var added: [Node] = []
    private var allNodes: [Node] { nodes + added }
    public nonisolated let root: String
    public nonisolated var addresses: [String] { nodes.map(\.address) }
    private var processes: [Int: Process] = [:]
    /// Each node's last command line (for errors that name it).
    private var commandLines: [Int: String] = [:]
    private let executable: String
    public nonisolated let kind: Kind
    private let placement: Placement
    private let environment: @Sendable (Int) -> [String: String]
    /// Flags for swift node `i` alone (a failure domain, say), after the cluster's own.
    private let nodeFlags: @Sendable (Int) -> [String]
    /// How this cluster's own checks reach the nodes, when they run with TLS (the nodes' flags say so).
    public nonisolated let tls: TLSContext?
    /// A client configuration that reaches the nodes (with `tls`).
    public nonisolated var clientConfig: ClientConfig {
        var c = ClientConfig()
        c.tls = tls
        return c
    }

    /// Where the nodes listen and how their processes start: loopback ports by default; the chaos runner's
    /// netns mode gives each node an address in its own network namespace and starts it in there.
    public struct Placement: Sendable {
        /// Node `index`'s dqlite address (host:port), asked once per node.
        public var address: @Sendable (Int) throws -> String
        /// Prepended to the node's command line (e.g. `ip netns exec NS`); empty runs the node directly. A word
        /// `{dir}` becomes the node's data dir.
        public var launcher: @Sendable (Int) -> [String]
        /// Runs on node `index`'s new, empty data dir before its first start (e.g. mounts a small tmpfs on it
        /// for full-disk faults; `stop` unmounts whatever is mounted under the cluster's root).
        public var prepare: @Sendable (Int, String) throws -> Void = { _, _ in }

        public init(address: @escaping @Sendable (Int) throws -> String, launcher: @escaping @Sendable (Int) -> [String]) {
            self.address = address
            self.launcher = launcher
        }

        public static let loopback = Placement(address: { _ in "127.0.0.1:\(try freeLoopbackPort())" }, launcher: { _ in [] })
    }

    /// The directory under which every cluster puts its files.
    public static var baseDirectory: String {
        (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/dqlite-swift-clusters"
    }

    /// Starts `count` nodes (the first bootstraps, the others join it) and waits until the leader lists them
    /// all: three of them (or all, when fewer) as voters, the rest as stand-bys.
    /// `environment` adds variables to node `i`'s environment (e.g. LD_PRELOAD of the clock-fault library).
    public static func start(nodes count: Int = 3, kind: Kind = .realDqlite, readyTimeout: Duration = .seconds(90),
                             placement: Placement = .loopback,
                             environment: @escaping @Sendable (Int) -> [String: String] = { _ in [:] },
                             nodeFlags: @escaping @Sendable (Int) -> [String] = { _ in [] },
                             tls: TLSContext? = nil) async throws -> ProcessCluster {
        let executable: String = switch kind {
        case .realDqlite: ProcessInfo.processInfo.environment["DQLITE_DEMO"] ?? "/usr/bin/dqlite-demo"
        case .swiftNode(let path, _): path
        case .command(let template): resolveProgram(template.program) ?? template.program
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            if case .command(let t) = kind { throw LocalClusterError.notReady("the command template's program \(t.program) is not an executable file or on PATH (template: \(t.text))") }
            throw LocalClusterError.missingExecutable(executable)
        }
        reapStaleClusters()
        let root = baseDirectory + "/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try String(getpid()).write(toFile: root + "/owner", atomically: true, encoding: .utf8)
        var nodes: [Node] = []
        for i in 0..<count {
            let dir = root + "/node\(i + 1)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            do { try placement.prepare(i, dir) } catch {
                Mounts.detachAll(under: root)
                try? FileManager.default.removeItem(atPath: root)
                throw error
            }
            nodes.append(Node(index: i, address: try placement.address(i),
                              apiAddress: "127.0.0.1:\(try freeLoopbackPort())", dir: dir))
        }
        let cluster = ProcessCluster(nodes: nodes, root: root, executable: executable, kind: kind, placement: placement,
                                     environment: environment, nodeFlags: nodeFlags, tls: tls)
        do {
            // Joiners are started once node 1 answers: go-dqlite's app gives up at once when the node it
            // joins through is not listening yet (seen on a loaded machine).
            try await cluster.launch(0)
            try await cluster.waitUntilListening(0, timeout: readyTimeout)
            for i in 1..<max(1, count) { try await cluster.launch(i) }
            try await cluster.waitUntilReady(timeout: readyTimeout)
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    private init(nodes: [Node], root: String, executable: String, kind: Kind, placement: Placement,
                 environment: @escaping @Sendable (Int) -> [String: String], nodeFlags: @escaping @Sendable (Int) -> [String],
                 tls: TLSContext?) {
        self.tls = tls
        self.environment = environment
        self.nodeFlags = nodeFlags
        self.nodes = nodes
        self.root = root
        self.executable = executable
        self.kind = kind
        self.placement = placement
    }

    /// Starts node `index` (again, after a kill): it rejoins with its data dir. A swift node gets
    /// `extraFlags` after the cluster's own, for a restart with other settings.
    public func launch(_ index: Int, extraFlags: [String] = []) throws {
        let node = allNodes[index]
        var arguments: [String]
        switch kind {
        case .realDqlite:
            arguments = ["--api", node.apiAddress, "--db", node.address, "--dir", node.dir]
        case .swiftNode(_, let extra):
            arguments = ["--id", String(index + 1), "--address", node.address, "--dir", node.dir,
                         "--election-timeout", "1000", "--heartbeat-timeout", "100"] + extra
                + nodeFlags(index).map { $0.replacingOccurrences(of: "{host}", with: Self.host(of: node.address)) } + extraFlags
        case .command(let template):
            arguments = Array(template.render(index: index, address: node.address, dir: node.dir,
                                              join: index > 0 ? nodes[0].address : nil).dropFirst())
        }
        if index > 0, !isCommand { arguments += ["--join", nodes[0].address] }
        let process = Process()
        // A launcher word `{dir}` is the node's data dir (the disk-fault launcher's scope, whatever flag the
        // program itself takes it with).
        let launcher = placement.launcher(index).map { $0 == "{dir}" ? node.dir : $0 }
        process.executableURL = URL(fileURLWithPath: launcher.first ?? executable)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [executable] + arguments
        let logPath = root + "/node\(index + 1).log"
        let log = try AppendedLog.open(logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let extra = environment(index)
        if !extra.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new } }
        commandLines[index] = ([process.executableURL?.path ?? executable] + (process.arguments ?? [])).joined(separator: " ")
        do { try process.run() } catch {
            throw LocalClusterError.notReady("node \(index + 1) could not start (\(commandLine(index))): \(error)")
        }
        processes[index] = process
        try recordPids()
    }

    /// Sends `signal` (SIGKILL by default) to node `index` and waits for it to exit.
    public func kill(_ index: Int, signal: Int32 = SIGKILL) {
        guard let p = processes.removeValue(forKey: index) else { return }
        Glibc.kill(p.processIdentifier, signal)
        _ = p.waitForExit()
        try? recordPids()
    }

    /// Sends `signal` to node `index` without waiting (SIGSTOP, SIGCONT).
    public func signal(_ index: Int, _ signal: Int32) {
        guard let p = processes[index] else { return }
        Glibc.kill(p.processIdentifier, signal)
    }

    /// Whether node `index` was started and has not been killed through `kill` (it may have died on its own:
    /// see `isRunning`).
    public func isStarted(_ index: Int) -> Bool { processes[index] != nil }

    /// Node `index`'s data directory.
    public func directory(_ index: Int) -> String { allNodes[index].dir }

    /// Every node's address, those added later included.
    public var allAddresses: [String] { allNodes.map(\.address) }

    public func pid(_ index: Int) -> Int32? { processes[index]?.processIdentifier }

    public func isRunning(_ index: Int) -> Bool { processes[index]?.isRunning ?? false }

    /// The node program's file.
    public var executablePath: String { executable }

    /// Node `index`'s last command line (launcher included).
    public func commandLine(_ index: Int) -> String { commandLines[index] ?? "(not started)" }

    private var isCommand: Bool { if case .command = kind { true } else { false } }

    /// The last lines of node `index`'s log (for telling a refusal to start from a crash).
    public func recentLog(_ index: Int) -> String { logTail(index) }

    /// Everything node `index` has logged so far (its starts after kills included).
    public func log(_ index: Int) -> String {
        (try? String(contentsOfFile: root + "/node\(index + 1).log", encoding: .utf8)) ?? ""
    }

    /// The host part of HOST:PORT (for flags that put a node's other endpoints on its address: "{host}").
    public nonisolated static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }

    /// The index of the node the cluster reports as leader.
    public func leaderIndex(config: ClientConfig? = nil) async throws -> Int {
        let config = config ?? clientConfig
        let live = allNodes.filter { processes[$0.index] != nil }.map(\.address)
        let address = try await DqliteClient(addresses: live, config: config).leaderAddress()
        guard let node = allNodes.first(where: { $0.address == address }) else { throw LocalClusterError.notReady("unknown leader \(address)") }
        return node.index
    }

    /// Starts one more node that joins through node 1 (its index is returned). The cluster grows by one.
    public func addNode() throws -> Int {
        let index = allNodes.count
        let dir = root + "/node\(index + 1)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try placement.prepare(index, dir)
        added.append(Node(index: index, address: try placement.address(index), apiAddress: "127.0.0.1:\(try freeLoopbackPort())", dir: dir))
        try launch(index)
        return index
    }

    /// Kills every node and removes the cluster's files.
    public func stop() {
        for index in Array(processes.keys) { kill(index) }
        Mounts.detachAll(under: root)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The last lines of node `index`'s log, for errors (the log goes away with the cluster's files).
    private func logTail(_ index: Int) -> String {
        let lines = log(index).split(separator: "\n").suffix(5)
        return lines.isEmpty ? "(empty log)" : lines.joined(separator: " | ")
    }

    /// Waits until node `index` accepts dqlite connections (or has exited).
    private func waitUntilListening(_ index: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var config = clientConfig
        config.dialTimeout = .milliseconds(500)
        config.requestTimeout = .seconds(2)
        while ContinuousClock.now < deadline {
            if let p = processes[index], !p.isRunning {
                throw LocalClusterError.notReady("node \(index + 1) exited (\(p.terminationStatus)) at start; command: \(commandLine(index)); log: \(logTail(index))")
            }
            if let node = try? await NodeClient.connect(to: allNodes[index].address, config: config) {
                node.close()
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw LocalClusterError.notReady("node \(index + 1) did not listen on \(allNodes[index].address) within \(timeout); command: \(commandLine(index)); log: \(logTail(index))")
    }

    private func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var config = clientConfig
        config.leaderTimeout = .seconds(2)
        config.retry = .none
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            for (i, p) in processes where !p.isRunning {
                throw LocalClusterError.notReady("node \(i + 1) exited (\(p.terminationStatus)) at start; command: \(commandLine(i)); log: \(logTail(i))")
            }
            do {
                // go-dqlite's app and our node both make three voters, then stand-bys: every other node (our
                // node's join policy) or three, the rest spares (automatic roles, as go-dqlite's app). Else a
                // spare means a join still in progress (a joining node is a spare until its ASSIGN commits).
                let members = try await DqliteClient(addresses: addresses, config: config).cluster()
                let voters = members.filter { $0.knownRole == .voter }.count
                let standBys = members.filter { $0.knownRole == .standBy }.count
                if Set(members.map(\.address)) == Set(addresses) && voters == min(addresses.count, 3)
                    && (standBys == addresses.count - voters || standBys == min(addresses.count - voters, 3)) { return }
                // A user's program may manage roles its own way: every node a member, and a voter, will do.
                if isCommand, Set(members.map(\.address)) == Set(addresses), voters > 0 { return }
                last = "members: \(members.map { "\($0.address) \($0.knownRole?.description ?? "?")" })"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw LocalClusterError.notReady("the nodes did not form a cluster within \(timeout): \(last); node 1 command: \(commandLine(0)); node 1 log: \(logTail(0))")
    }

    private func recordPids() throws {
        let pids = processes.values.map { String($0.processIdentifier) }.joined(separator: "\n")
        try pids.write(toFile: root + "/pids", atomically: true, encoding: .utf8)
    }

    /// `program` as given when it is a path, else the first executable of that name on PATH.
    static func resolveProgram(_ program: String) -> String? {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Stops the nodes of clusters whose owning process has died (a crashed or killed test run), checking that
    /// each pid still runs dqlite-demo with that cluster's dir before killing it.
    static func reapStaleClusters() {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: baseDirectory) else { return }
        for entry in entries {
            let root = baseDirectory + "/" + entry
            guard let owner = (try? String(contentsOfFile: root + "/owner", encoding: .utf8)).flatMap({ Int32($0) }),
                  Glibc.kill(owner, 0) != 0 else { continue }
            let pids = ((try? String(contentsOfFile: root + "/pids", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            for pid in pids {
                let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
                if String(decoding: cmdline, as: UTF8.self).contains(root) { Glibc.kill(pid, SIGKILL) }
            }
            Mounts.detachAll(under: root)
            try? fm.removeItem(atPath: root)
        }
    }
}
