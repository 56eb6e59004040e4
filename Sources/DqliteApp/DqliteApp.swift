import DqliteClient
import DqliteNode
import DqliteWire
import Foundation
import Logging
import Synchronization

/// A dqlite node inside your own program, as go-dqlite's `app` package: `DqliteApp(dir:address:cluster:)`
/// starts the node (bootstrapping a new cluster when `cluster` is empty, joining through it otherwise),
/// `open` gives a database, `ready` waits for the node to have joined and taken its role, `handover` gives
/// leadership and role to others before a planned stop, `close` stops.
///
/// With automatic roles (the default), the leader polls the members every `rolesAdjustmentInterval` and
/// applies `RolePlanner`: 3 voters and 3 stand-bys by default, spread over failure domains; a member that
/// stops answering loses its role to an online one.
public final class DqliteApp: Sendable {
    public let id: UInt64
    public let address: String
    public let dir: String
    /// The node itself (its settings, leadership, and in-process reads for tests).
    public let node: Node
    /// A client of the cluster, through this node and the addresses it was given.
    public let client: DqliteClient
    private let options: DqliteAppOptions
    private let directory: NodeDirectory
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let closed = Mutex(false)
    private var logger: Logger { options.node.logger }

    /// Starts the node in `dir` (created when missing, locked against a second node) at `address`
    /// (HOST:PORT, clients and peers). `cluster`: addresses of running members to join through; empty, a new
    /// cluster is bootstrapped with this node as its only voter. A restart on the same dir resumes (and
    /// finishes a join a kill interrupted).
    public init(dir: String, address: String, cluster: [String] = [], options: DqliteAppOptions = DqliteAppOptions()) async throws(DqliteAppError) {
        if options.metricsAddress != nil { _ = MetricsEndpoint.registry }  // before the node makes its metrics
        let fixedMmapThreshold = options.fixMallocThreshold && MallocPolicy.apply(environment: ProcessInfo.processInfo.environment)
        options.node.logger.debug("malloc mmap threshold \(fixedMmapThreshold ? "fixed at \(MallocPolicy.mmapThreshold) bytes" : "left to glibc")")
        let directory: NodeDirectory
        do {
            directory = try NodeDirectory.lock(dir)
        } catch {
            throw .directory("\(error)")
        }
        let fresh = !NodeDirectory.hasState(dir)
        let id: UInt64
        do {
            id = try AppIdentity.resolve(given: options.id, dir: dir, bootstraps: cluster.isEmpty, hasState: !fresh)
        } catch {
            directory.unlock()
            throw error
        }
        let node: Node
        do {
            node = try await Node(id: id, address: address, dir: dir, bootstrap: fresh && cluster.isEmpty ? [(id, address)] : [],
                                  settings: options.node, failureDomain: options.failureDomain)
        } catch {
            directory.unlock()
            throw .node("cannot start node \(id) at \(address): \(error)")
        }
        self.id = id
        self.address = address
        self.dir = dir
        self.node = node
        self.options = options
        self.directory = directory
        do {
            var config = ClientConfig()
            config.tls = options.node.tls
            client = try DqliteClient(addresses: [address] + cluster, config: config)
        } catch {
            await node.stop()
            directory.unlock()
            throw .node("\(error)")
        }
        options.node.logger.info("node \(id) listening on \(address), data in \(dir)\(fresh ? " (new)" : "")")
        if options.weight != 0 { await setOwnWeight(options.weight) }
        if fresh && !cluster.isEmpty {
            // Joining is idempotent, so a step that fails while other nodes join or the leader changes is
            // retried from the start, for a while.
            let deadline = ContinuousClock.now + options.joinTimeout
            while true {
                do {
                    let role = try await ClusterJoin.join(id: id, address: address, through: cluster, automaticRoles: options.automaticRoles, tls: options.node.tls)
                    options.node.logger.info("node \(id) joined as \(role)")
                    break
                } catch {
                    guard ContinuousClock.now < deadline else {
                        await node.stop()
                        directory.unlock()
                        throw .join("cannot join through \(cluster.joined(separator: ",")): \(error)")
                    }
                    options.node.logger.info("joining: \(error); retrying")
                    try? await Task.sleep(for: .milliseconds(300))
                }
            }
        } else if !fresh && !cluster.isEmpty {
            // A node killed while joining has Raft state but may not be a member yet (or not have its role):
            // it finishes the join in the background once a leader answers; never fatal, as the cluster may
            // be restarting with it.
            let automatic = options.automaticRoles
            let tls = options.node.tls
            startTask {
                let deadline = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < deadline && !Task.isCancelled {
                    if (try? await ClusterJoin.join(id: id, address: address, through: cluster, automaticRoles: automatic,
                                                    alreadyJoinedIsEnough: true, tls: tls)) != nil { return }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        if let metrics = options.metricsAddress {
            let logger = options.node.logger
            startTask {
                do {
                    try await MetricsEndpoint.serve(on: metrics)
                } catch where !Task.isCancelled {
                    logger.error("metrics endpoint on \(metrics): \(error)")
                } catch {}
            }
            options.node.logger.info("metrics on http://\(metrics)/metrics")
        }
        if options.automaticRoles {
            let adjuster = RoleAdjuster(id: id, address: address, node: node, client: client, options: options)
            startTask { await adjuster.run() }
        }
    }

    /// A connection to `database`, through the leader wherever it is (go-dqlite's `app.Open`).
    public func open(_ database: String) async throws(DqliteError) -> Connection {
        try await client.open(database)
    }

    /// Waits until this node is a member with a leader known and, with automatic roles, holds a role or the
    /// cluster has every voter and stand-by it wants without it.
    public func ready(timeout: Duration = .seconds(30)) async throws(DqliteAppError) {
        let deadline = ContinuousClock.now + timeout
        var last = "no leader yet"
        while ContinuousClock.now < deadline {
            do {
                let members = try await client.cluster()
                if let mine = members.first(where: { $0.id == id }) {
                    let voters = members.filter { $0.knownRole == .voter }.count
                    let standBys = members.filter { $0.knownRole == .standBy }.count
                    if !options.automaticRoles || mine.knownRole != .spare
                        || (voters >= options.voters && standBys >= options.standBys) { return }
                    last = "a spare while the cluster has \(voters) voters and \(standBys) stand-bys"
                } else {
                    last = "not a member yet"
                }
            } catch {
                last = "\(error)"
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw .notReady("node \(id) after \(timeout): \(last)")
    }

    /// Before a planned stop: hands leadership to another voter, then (automatic roles) has online members
    /// take this node's role (promotions first) and makes it a spare, so the cluster never runs a voter short.
    public func handover() async {
        // Weighted out first, so that the leader's own role loop does not pick this node again.
        await setOwnWeight(UInt64.max)
        await node.handOverLeadership()
        guard options.automaticRoles else { return }
        let poll = MemberPoll(unreachableAfter: options.unreachableAfter, graceForNewcomers: false, tls: options.node.tls)
        for attempt in 1...5 {
            do {
                let members = try await client.cluster()
                guard let mine = members.first(where: { $0.id == id }), mine.knownRole != .spare else { return }
                let leaderAddress = try await client.leaderAddress()
                let leader = members.first { $0.address == leaderAddress }?.id ?? 0
                var view = await poll.poll(members, me: id, myDomain: options.failureDomain, myWeight: UInt64.max)
                if let i = view.firstIndex(where: { $0.id == id }) { view[i].online = false }
                let changes = RolePlanner.plan(view, voters: options.voters, standBys: options.standBys, leader: leader)
                for change in changes {
                    try await client.withLeader { c throws(DqliteError) in try await c.assign(id: change.id, role: change.role) }
                    logger.info("handover: node \(change.id) → \(change.role)")
                }
                if leader == id && attempt < 5 {  // the transfer did not happen: try it again, then the roles
                    await node.handOverLeadership()
                    continue
                }
                return
            } catch {
                logger.info("handover: \(error); retrying")
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Hands over, stops the role loop and the node, and unlocks the data dir. Idempotent.
    public func close() async {
        let first = closed.withLock { c in defer { c = true }; return !c }
        guard first else { return }
        await handover()
        let running = tasks.withLock { t in defer { t.removeAll() }; return t }
        for t in running { t.cancel() }
        for t in running { await t.value }
        await node.stop()
        directory.unlock()
    }

    private func startTask(_ body: @escaping @Sendable () async -> Void) {
        let t = Task { await body() }
        tasks.withLock { $0.append(t) }
    }

    /// DESCRIBE's weight, set through the node's own wire API (it is kept in memory, as dqlite's).
    private func setOwnWeight(_ weight: UInt64) async {
        do {
            var config = ClientConfig()
            config.tls = options.node.tls
            let c = try await NodeClient.connect(to: address, config: config)
            defer { c.close() }
            try await c.setWeight(weight)
        } catch {
            logger.info("cannot set this node's weight: \(error)")
        }
    }
}
