#if canImport(Glibc)
import Glibc
#endif
import DqliteClient
import Foundation
import LocalCluster

/// Applies a fault timeline to the cluster's processes, recording each fault as actually applied (which node,
/// when) in the history and in the run's log of applied faults.
actor Nemesis {
    let cluster: ProcessCluster
    let history: HistoryWriter
    private(set) var applied: [AppliedFault] = []
    /// Faults in force now, for the status line.
    private(set) var current: [String] = []
    private var paused: Set<Int> = []
    /// Nodes whose files were damaged (`corrupt`), and those of them that then refused to start.
    private var damaged: Set<Int> = []
    private(set) var refused: Set<Int> = []
    private var down: Set<Int> = []
    private var leaderChanges = 0
    /// Partitions, delay and loss (netns mode only).
    let network: NetworkNemesis?
    /// Disk errors and full disks (scenarios with `disk` or `full` faults only).
    let disk: DiskFaults?
    private var diskErrors: [Int: DiskErrno] = [:]
    private var fullDisks: Set<Int> = []
    /// Keeps each full disk full: what the node frees (closing a segment truncates its preallocated tail)
    /// is taken again every 50 ms.
    private var topUps: [Int: Task<Void, Never>] = [:]
    /// Nodes that ever had a disk fault: they may stop on their own (fail-stop, exit 74), which is no crash.
    private var diskFaulted: Set<Int> = []
    /// How many times a node stopped on a disk fault.
    private(set) var failStops = 0

    init(cluster: ProcessCluster, history: HistoryWriter, network: NetworkNemesis? = nil, disk: DiskFaults? = nil) {
        self.cluster = cluster
        self.history = history
        self.network = network
        self.disk = disk
    }

    /// Runs `plan` (times relative to `start`); returns when its last fault has been healed.
    func run(_ plan: [PlannedFault], start: ContinuousClock.Instant) async {
        for fault in plan {
            try? await Task.sleep(until: start + .seconds(fault.atS), clock: .continuous)
            await apply(fault, start: start)
            try? await Task.sleep(for: .seconds(fault.forS))
            await heal()
        }
    }

    private func apply(_ fault: PlannedFault, start: ContinuousClock.Instant) async {
        let count = await cluster.allAddresses.count
        var live: [Int] = []
        for i in 0..<count where await cluster.isStarted(i) { live.append(i) }
        let leader = try? await cluster.leaderIndex(config: Self.quickConfig)
        var candidates: [Int] = switch fault.target {
        case .leader: leader.map { [$0] } ?? live
        case .follower: live.filter { $0 != leader }
        case .one: live
        }
        if fault.type == .member { candidates.removeAll { $0 == 0 } }
        guard !candidates.isEmpty else { return }
        let node = candidates[fault.pick % candidates.count]
        var net: NetworkNemesis.Applied?
        switch fault.type {
        case .kill: await cluster.kill(node, signal: SIGKILL); down.insert(node)
        case .stop: await cluster.kill(node, signal: SIGTERM); down.insert(node)
        case .pause: await cluster.signal(node, SIGSTOP); paused.insert(node)
        case .transfer:
            guard let leader, let to = await transferTarget(from: leader, pick: fault.pick) else {
                await history.nemesis("start", fault: "transfer-failed", detail: #"{"node":\#(node + 1),"error":"no leader or no other voter"}"#)
                return
            }
            let ok = await viaLeader { c throws(DqliteError) in try await c.transfer(to: UInt64(to + 1)) }
            net = NetworkNemesis.Applied(detail: #"{"from":\#(leader + 1),"to":\#(to + 1),"done":\#(ok)}"#,
                                         status: "transfer n\(leader + 1) -> n\(to + 1)")
        case .member:
            let removed = await viaLeader { c throws(DqliteError) in try await c.remove(id: UInt64(node + 1)) }
            await cluster.kill(node, signal: SIGKILL)
            let dir = await cluster.directory(node)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                try? FileManager.default.removeItem(atPath: dir + "/" + entry)
            }
            down.insert(node)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"removed":\#(removed),"wiped":true,"for_s":\#(fault.forS)}"#,
                                         status: "member n\(node + 1) removed and wiped")
        case .corrupt:
            await cluster.kill(node, signal: SIGKILL)
            down.insert(node)
            damaged.insert(node)
            let damage = DiskDamage.apply(dir: await cluster.directory(node), pick: fault.pick)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"file":\#(HistoryWriter.quote(damage.file)),"damage":"\#(damage.kind)","for_s":\#(fault.forS)}"#,
                                         status: "corrupt n\(node + 1): \(damage.kind) \(damage.file)")
        case .disk:
            let error = fault.error ?? .eio
            do {
                guard let disk, disk.launcher != nil else { throw ChaosError.harness("no disk-fault launcher") }
                try disk.set(node, error)
            } catch {
                await history.nemesis("start", fault: "disk-failed", detail: #"{"node":\#(node + 1),"error":\#(HistoryWriter.quote("\(error)"))}"#)
                return
            }
            diskErrors[node] = error
            diskFaulted.insert(node)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"error":"\#(error.rawValue)","for_s":\#(fault.forS)}"#,
                                         status: "disk \(error.rawValue) n\(node + 1)")
        case .full:
            guard let disk, disk.tmpfsBytes != nil else {
                await history.nemesis("start", fault: "full-failed", detail: #"{"node":\#(node + 1),"error":"no tmpfs data dirs"}"#)
                return
            }
            let dir = await cluster.directory(node)
            let bytes = disk.fill(dir)
            topUps[node] = Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    _ = disk.fill(dir)
                }
            }
            fullDisks.insert(node)
            diskFaulted.insert(node)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"balloon_bytes":\#(bytes),"for_s":\#(fault.forS)}"#,
                                         status: "full n\(node + 1) (+\(bytes >> 20) MiB)")
        case .partition, .delay, .loss:
            do {
                guard let network else { throw ChaosError.harness("\(fault.type.rawValue) needs isolation: netns") }
                net = try await network.apply(fault, center: node, leader: leader)
            } catch {
                await history.nemesis("start", fault: "\(fault.type.rawValue)-failed", detail: #"{"node":\#(node + 1),"error":\#(HistoryWriter.quote("\(error)"))}"#)
                return
            }
        }
        let wasLeader = node == leader
        let detail = net?.detail ?? #"{"node":\#(node + 1),"leader":\#(wasLeader),"for_s":\#(fault.forS)}"#
        await history.nemesis("start", fault: fault.type.rawValue, detail: detail)
        let at = (ContinuousClock.now - start)
        applied.append(AppliedFault(atS: Double(at.components.seconds) + Double(at.components.attoseconds) / 1e18,
                                    type: fault.type, node: node + 1, wasLeader: wasLeader, forS: fault.forS,
                                    shape: net?.shape, groups: net?.groups, link: net?.link))
        current = [net?.status ?? "\(fault.type.rawValue) n\(node + 1)\(wasLeader ? " (leader)" : "")"]
    }

    /// A voter other than `leader`, chosen by `pick` among them in id order.
    private func transferTarget(from leader: Int, pick: Int) async -> Int? {
        guard let members = try? await DqliteClient(addresses: await cluster.allAddresses, config: Self.quickConfig).cluster() else { return nil }
        let voters = members.filter { $0.knownRole == .voter && Int($0.id) - 1 != leader }.map { Int($0.id) - 1 }.sorted()
        return voters.isEmpty ? nil : voters[pick % voters.count]
    }

    /// Runs an admin request on the leader, retrying for a few seconds (a configuration change may be under
    /// way); whether it succeeded.
    private func viaLeader(_ body: @Sendable (NodeClient) async throws(DqliteError) -> Void) async -> Bool {
        var config = ClientConfig()
        config.leaderTimeout = .seconds(5)
        config.retry.deadline = .seconds(5)
        config.retry.retryBusy = true
        guard let client = try? DqliteClient(addresses: await cluster.allAddresses, config: config) else { return false }
        do {
            try await client.withLeader(body)
            return true
        } catch {
            return false
        }
    }

    /// Ends every fault in force: killed and stopped nodes restart with their data, paused ones resume.
    func heal() async {
        if let network, let ended = await network.heal() {
            await history.nemesis("stop", fault: ended.fault, detail: ended.detail)
        }
        // Disks first, so nodes that stopped on them restart below (or at the next reap) on a working disk.
        for (node, error) in diskErrors.sorted(by: { $0.key < $1.key }) {
            try? disk?.set(node, nil)
            let failed = disk?.injected(node) ?? 0
            await history.nemesis("stop", fault: "disk", detail: #"{"node":\#(node + 1),"error":"\#(error.rawValue)","failed_calls":\#(failed)}"#)
        }
        for node in fullDisks.sorted() {
            if let task = topUps.removeValue(forKey: node) {
                task.cancel()
                await task.value
            }
            disk?.drain(await cluster.directory(node))
            await history.nemesis("stop", fault: "full", detail: #"{"node":\#(node + 1)}"#)
        }
        diskErrors.removeAll()
        fullDisks.removeAll()
        for node in paused.sorted() {
            await cluster.signal(node, SIGCONT)
            await history.nemesis("stop", fault: "pause", detail: #"{"node":\#(node + 1)}"#)
        }
        for node in down.sorted() {
            do {
                try await cluster.launch(node)
                await history.nemesis("stop", fault: "restart", detail: #"{"node":\#(node + 1)}"#)
            } catch {
                await history.nemesis("stop", fault: "restart-failed", detail: #"{"node":\#(node + 1)}"#)
            }
        }
        paused.removeAll()
        down.removeAll()
        current = []
    }

    /// Nodes that died without the nemesis killing them (a crash), restarted so the run goes on.
    func reapCrashes() async -> [Int] {
        var crashed: [Int] = []
        let count = await cluster.allAddresses.count
        for i in 0..<count where !down.contains(i) && !refused.contains(i) {
            guard await cluster.isStarted(i), !(await cluster.isRunning(i)) else { continue }
            // A node whose data was damaged on purpose may refuse to start, with a clear error: that is
            // allowed (it must not serve wrong data); it stays down and the run goes on without it.
            let log = await cluster.recentLog(i)
            if damaged.contains(i), log.contains("cannot start node") {
                refused.insert(i)
                await history.nemesis("start", fault: "refused-to-start", detail: #"{"node":\#(i + 1),"log":\#(HistoryWriter.quote(log))}"#)
                await cluster.kill(i)
                continue
            }
            // A node stops on its own at the first failed disk write (fail-stop): expected under a disk fault.
            // It restarts when the fault ends (now, if it already has).
            if diskFaulted.contains(i), log.contains("disk failure:") {
                failStops += 1
                await history.nemesis("start", fault: "fail-stop", detail: #"{"node":\#(i + 1),"log":\#(HistoryWriter.quote(log))}"#)
                await cluster.kill(i)
                if diskErrors[i] != nil || fullDisks.contains(i) {
                    down.insert(i)
                } else {
                    try? await cluster.launch(i)
                }
                continue
            }
            crashed.append(i + 1)
            await history.nemesis("start", fault: "crash", detail: #"{"node":\#(i + 1)}"#)
            await cluster.kill(i)
            try? await cluster.launch(i)
        }
        return crashed
    }

    static var quickConfig: ClientConfig {
        var c = ClientConfig()
        c.leaderTimeout = .seconds(1)
        c.dialTimeout = .milliseconds(500)
        c.requestTimeout = .seconds(1)
        c.retry = .none
        return c
    }
}

/// A fault as it was applied.
public struct AppliedFault: Codable, Sendable {
    public var atS: Double
    public var type: FaultType
    public var node: Int
    public var wasLeader: Bool
    public var forS: Double
    /// Partitions: the shape and its groups (1-based node ids); delay and loss: what the proxies did.
    public var shape: PartitionShape?
    public var groups: [[Int]]?
    public var link: LinkFault?

    enum CodingKeys: String, CodingKey {
        case atS = "at_s", type, node, wasLeader = "was_leader", forS = "for_s", shape, groups, link
    }
}
