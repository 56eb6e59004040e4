#if canImport(Glibc)
import Glibc
#endif
import DqliteClient
import Foundation
import LocalCluster

/// Applies a fault timeline to the cluster's processes, recording each fault as actually applied (which node,
/// when) in the history and in the run's log of applied faults. Each fault runs on its own: applied at its
/// time, healed after its duration, so faults of a plan with `max_concurrent` above 1 overlap. Faults that
/// hold a node (kill, stop, pause, member, corrupt, disk, full) never share one.
actor Nemesis {
    let cluster: ProcessCluster
    let history: HistoryWriter
    let target: ChaosTarget
    private(set) var applied: [AppliedFault] = []
    /// Faults of the plan that could not be applied (no node to take them), with why.
    private(set) var skipped: [String] = []
    /// Faults in force, by their index in the plan.
    private var active: [Int: ActiveFault] = [:]
    /// Nodes whose files were damaged (`corrupt`), and those of them that then refused to start.
    private var damaged: Set<Int> = []
    private(set) var refused: Set<Int> = []
    /// Partitions, delay and loss (netns mode only).
    let network: NetworkNemesis?
    /// Disk errors and full disks (scenarios with `disk` or `full` faults only).
    let disk: DiskFaults?
    /// Keeps each full disk full: what the node frees (closing a segment truncates its preallocated tail)
    /// is taken again every 50 ms.
    private var topUps: [Int: Task<Void, Never>] = [:]
    /// Nodes that ever had a disk fault: they may stop on their own (fail-stop), which is no crash.
    private var diskFaulted: Set<Int> = []
    /// Nodes that stopped on a disk fault still in force: they restart when it heals.
    private var failStopped: Set<Int> = []
    /// How many times a node stopped on a disk fault.
    private(set) var failStops = 0
    /// Power losses (scenarios with `power-loss` faults only).
    let power: PowerLossDisks?
    /// Nodes whose disk did not come back from a power loss (a harness failure): never started on the bare dir.
    var diskless: Set<Int> = []

    /// A fault in force and how to end it.
    struct ActiveFault: Sendable {
        var id: Int
        var type: FaultType
        /// 0-based; the node it holds, or the one it centred on.
        var node: Int
        var status: String
        var diskError: DiskErrno?
        /// A hold: what it holds.
        var hold: HoldKind?
        /// A power loss of several nodes: the others it holds.
        var others: [Int] = []
        var nodes: [Int] { node >= 0 ? [node] + others : others }
    }

    /// Faults in force now, for the status line.
    var current: [String] { active.sorted { $0.key < $1.key }.map(\.value.status) }

    /// Bent clocks (scenarios with `clock` faults only).
    let clocks: ClockFaults?
    /// The workload's clients, held by `hold` phases.
    let gate: WorkloadGate?

    init(cluster: ProcessCluster, history: HistoryWriter, target: ChaosTarget, network: NetworkNemesis? = nil, disk: DiskFaults? = nil,
         clocks: ClockFaults? = nil, gate: WorkloadGate? = nil, power: PowerLossDisks? = nil) {
        self.power = power
        self.clocks = clocks
        self.gate = gate
        self.cluster = cluster
        self.history = history
        self.target = target
        self.network = network
        self.disk = disk
    }

    /// Runs `plan` (times relative to `start`); returns when its last fault has been healed.
    func run(_ plan: [PlannedFault], start: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            for (id, fault) in plan.enumerated() {
                group.addTask {
                    try? await Task.sleep(until: start + .seconds(fault.atS), clock: .continuous)
                    guard let a = await self.apply(fault, id: id, start: start) else { return }
                    try? await Task.sleep(for: .seconds(fault.forS))
                    await self.heal(a)
                }
            }
        }
    }

    /// Nodes held by a fault in force.
    private var held: Set<Int> { Set(active.values.filter(\.type.holdsNode).flatMap(\.nodes)) }

    private func apply(_ fault: PlannedFault, id: Int, start: ContinuousClock.Instant) async -> ActiveFault? {
        if fault.type == .hold { return await hold(fault, id: id, start: start) }
        let count = await cluster.allAddresses.count
        var live: [Int] = []
        for i in 0..<count where await cluster.isStarted(i) { live.append(i) }
        // A replayed fault names its node: asking for the leader (up to a second while one is paused or cut
        // off) would only delay it past its recorded offset. A transfer still needs the leader.
        let leader = (fault.node == nil && fault.groups == nil) || fault.type == .transfer ? try? await cluster.leaderIndex(config: Self.quickConfig(cluster.tls)) : nil
        var candidates: [Int]
        var group: [Int]?
        if fault.type == .powerLoss, fault.target.isGroup || fault.nodes != nil {
            let free = live.filter { !held.contains($0) }
            let nodes = fault.nodes.map { $0.map { $0 - 1 }.filter(free.contains) }
                ?? Self.powerLossGroup(fault.target, free: free, count: count, leader: leader, pick: fault.pick)
            group = nodes
            candidates = Array(nodes.prefix(1))
        } else if let n = fault.node ?? fault.groups?.first?.first {
            candidates = [n - 1]
        } else {
            candidates = switch fault.target {
            case .leader: leader.map { [$0] } ?? live
            case .follower: live.filter { $0 != leader }
            case .one: live
            // Group targets without a power loss (refused when a scenario is read): any one node.
            case .majority, .all: live
            }
            if fault.type == .member { candidates.removeAll { $0 == 0 } }
            // A node that refuses to start on damaged files stays down: damaging more nodes than a minority
            // would leave no majority able to start, an outage by design rather than a finding.
            if fault.type == .corrupt, refused.count + 1 > (count - 1) / 2 {
                await skip(fault, id: id, "\(refused.count) node(s) already refused to start: damaging another could leave no majority")
                return nil
            }
            if fault.type.holdsNode { candidates.removeAll { held.contains($0) } }
            if fault.type == .clock { candidates.removeAll { n in active.values.contains { $0.type == .clock && $0.node == n } } }
        }
        // One network fault at a time, except partitions, whose cuts add up (random plans never overlap them).
        if fault.type.needsNetns, active.values.contains(where: { $0.type.needsNetns && !($0.type == .partition && fault.type == .partition) }) { candidates = [] }
        guard let node = candidates.isEmpty ? nil : candidates[fault.pick % candidates.count],
              !(fault.type.holdsNode && held.contains(node)), node < count else {
            let why = fault.type.needsNetns ? "another network fault is in force" : "no node can take it (targets \(fault.node.map { "n\($0)" } ?? fault.target.rawValue), held: \(held.sorted().map { "n\($0 + 1)" }))"
            await skip(fault, id: id, why)
            return nil
        }
        var net: NetworkNemesis.Applied?
        var to: Int?
        let wasLeader = fault.node != nil && fault.type != .transfer ? fault.target == .leader
            : group.map { g in leader.map(g.contains) ?? false } ?? (node == leader)
        // The offset recorded is when the fault began, not when its action finished (a kill waits for the exit).
        let began = ContinuousClock.now - start
        switch fault.type {
        case .kill:
            await cluster.kill(node, signal: SIGKILL)
        case .stop:
            await cluster.kill(node, signal: SIGTERM)
        case .pause:
            await cluster.signal(node, SIGSTOP)
        case .transfer:
            if let to = fault.to, to - 1 == leader {
                await skip(fault, id: id, "n\(to) already leads")
                return nil
            }
            guard let leader, let dest = await transferTarget(from: leader, to: fault.to.map { $0 - 1 }, pick: fault.pick),
                  let destID = await memberID(dest) else {
                await skip(fault, id: id, "no leader or no other voter to hand leadership to")
                return nil
            }
            to = dest
            let ok = await viaLeader { c throws(DqliteError) in try await c.transfer(to: destID) }
            net = NetworkNemesis.Applied(detail: #"{"from":\#(leader + 1),"to":\#(dest + 1),"done":\#(ok)}"#,
                                         status: "transfer n\(leader + 1) -> n\(dest + 1)")
        case .member:
            var removed = false
            if let id = await memberID(node) { removed = await viaLeader { c throws(DqliteError) in try await c.remove(id: id) } }
            await cluster.kill(node, signal: SIGKILL)
            let dir = await cluster.directory(node)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                try? FileManager.default.removeItem(atPath: dir + "/" + entry)
            }
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"removed":\#(removed),"wiped":true,"for_s":\#(fault.forS)}"#,
                                         status: "member n\(node + 1) removed and wiped")
        case .corrupt:
            await cluster.kill(node, signal: SIGKILL)
            damaged.insert(node)
            let damage = DiskDamage.apply(dir: DiskDamage.raftDirectory(under: await cluster.directory(node)), pick: fault.pick)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"file":\#(HistoryWriter.quote(damage.file)),"damage":"\#(damage.kind)","for_s":\#(fault.forS)}"#,
                                         status: "corrupt n\(node + 1): \(damage.kind) \(damage.file)")
        case .disk:
            let error = fault.error ?? .eio
            do {
                guard let disk, disk.launcher != nil else { throw ChaosError.harness("no disk-fault launcher") }
                try disk.set(node, error)
            } catch {
                await skip(fault, id: id, "\(error)")
                return nil
            }
            diskFaulted.insert(node)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"error":"\#(error.rawValue)","for_s":\#(fault.forS)}"#,
                                         status: "disk \(error.rawValue) n\(node + 1)")
        case .full:
            guard let disk, disk.tmpfsBytes != nil else {
                await skip(fault, id: id, "no tmpfs data dirs")
                return nil
            }
            let dir = await cluster.directory(node)
            let bytes = disk.fill(dir)
            topUps[node] = Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    _ = disk.fill(dir)
                }
            }
            diskFaulted.insert(node)
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"balloon_bytes":\#(bytes),"for_s":\#(fault.forS)}"#,
                                         status: "full n\(node + 1) (+\(bytes >> 20) MiB)")
        case .clock:
            let change = fault.clock ?? ClockChange(mode: .rate, rate: 2)
            do {
                guard let clocks else { throw ChaosError.harness("no clock-fault library") }
                try clocks.apply(change, to: node)
            } catch {
                await skip(fault, id: id, "\(error)")
                return nil
            }
            net = NetworkNemesis.Applied(detail: #"{"node":\#(node + 1),"clock":\#(HistoryWriter.quote(change.summary)),"for_s":\#(fault.forS)}"#,
                                         status: "clock \(change.summary) n\(node + 1)")
        case .hold:
            return nil  // applied by `hold` above
        case .powerLoss:
            net = await cutPower(group ?? [node], torn: fault.torn ?? false, wasLeader: wasLeader, forS: fault.forS)
        case .partition, .delay, .loss:
            do {
                guard let network else { throw ChaosError.harness("\(fault.type.rawValue) needs isolation: netns") }
                net = try await network.apply(fault, id: id, center: node, leader: wasLeader ? node : leader)
            } catch {
                await skip(fault, id: id, "\(error)")
                return nil
            }
        }
        let detail = net?.detail ?? #"{"node":\#(node + 1),"leader":\#(wasLeader),"for_s":\#(fault.forS)}"#
        await history.nemesis("start", fault: fault.type.rawValue, detail: Self.withID(detail, id))
        var record = AppliedFault(atS: Double(began.components.seconds) + Double(began.components.attoseconds) / 1e18,
                                  type: fault.type, node: node + 1, wasLeader: wasLeader, forS: fault.forS,
                                  shape: net?.shape, groups: net?.groups, link: net?.link)
        record.pick = fault.pick
        record.to = to.map { $0 + 1 }
        record.error = fault.type == .disk ? (fault.error ?? .eio) : nil
        record.clock = fault.type == .clock ? (fault.clock ?? ClockChange(mode: .rate, rate: 2)) : nil
        if fault.type == .powerLoss {
            record.torn = fault.torn ?? false
            record.writebackS = power?.writebackS
            if let group { record.nodes = group.map { $0 + 1 } }
        }
        applied.append(record)
        var a = ActiveFault(id: id, type: fault.type, node: node,
                            status: net?.status ?? "\(fault.type.rawValue) n\(node + 1)\(wasLeader ? " (leader)" : "")",
                            diskError: record.error)
        a.others = Array((group ?? []).dropFirst())
        active[id] = a
        return a
    }

    /// A `hold` phase: the workload's clients hold their writes or everything until it heals.
    private func hold(_ fault: PlannedFault, id: Int, start: ContinuousClock.Instant) async -> ActiveFault? {
        guard let gate else {
            await skip(fault, id: id, "no workload to hold")
            return nil
        }
        let kind = fault.hold ?? .writes
        let began = ContinuousClock.now - start
        gate.hold(kind)
        await history.nemesis("start", fault: "hold", detail: Self.withID(#"{"hold":"\#(kind.rawValue)","for_s":\#(fault.forS)}"#, id))
        var record = AppliedFault(atS: Double(began.components.seconds) + Double(began.components.attoseconds) / 1e18,
                                  type: .hold, node: 0, wasLeader: false, forS: fault.forS)
        record.hold = kind
        applied.append(record)
        let a = ActiveFault(id: id, type: .hold, node: -1, status: "hold \(kind.rawValue)", hold: kind)
        active[id] = a
        return a
    }

    /// A fault of the plan that found no node to take it: said in the history and in run.json, not dropped.
    private func skip(_ fault: PlannedFault, id: Int, _ why: String) async {
        skipped.append("\(fault.type.rawValue) at \(fault.atS) s: \(why)")
        await history.nemesis("start", fault: "\(fault.type.rawValue)-skipped",
                              detail: #"{"id":\#(id),"reason":\#(HistoryWriter.quote(why))}"#)
    }

    /// `{"id":N,...}`: the id pairs a fault's start and stop lines (faults of one kind may overlap).
    static func withID(_ detail: String, _ id: Int) -> String {
        guard detail.hasPrefix("{") else { return detail }
        return #"{"id":\#(id)"# + (detail == "{}" ? "}" : "," + detail.dropFirst())
    }

    /// The member id of node `index` (go-dqlite's app picks its own ids: found by address).
    private func memberID(_ index: Int) async -> UInt64? {
        if target.kind == .dqliteNode { return UInt64(index + 1) }
        let address = await cluster.allAddresses[index]
        guard let members = try? await DqliteClient(addresses: await cluster.allAddresses, config: Self.quickConfig(cluster.tls)).cluster() else { return nil }
        return members.first { $0.address == address }?.id
    }

    /// A voter other than `leader`: `to` when it is one, else chosen by `pick` among them in node order.
    private func transferTarget(from leader: Int, to: Int?, pick: Int) async -> Int? {
        let addresses = await cluster.allAddresses
        guard let members = try? await DqliteClient(addresses: addresses, config: Self.quickConfig(cluster.tls)).cluster() else { return nil }
        let voters = members.filter { $0.knownRole == .voter }.compactMap { m in addresses.firstIndex(of: m.address) }
            .filter { $0 != leader }.sorted()
        if let to { return voters.contains(to) ? to : nil }
        return voters.isEmpty ? nil : voters[pick % voters.count]
    }

    /// Runs an admin request on the leader, retrying for a few seconds (a configuration change may be under
    /// way); whether it succeeded.
    private func viaLeader(_ body: @Sendable (NodeClient) async throws(DqliteError) -> Void) async -> Bool {
        var config = cluster.clientConfig
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

    /// Ends fault `a`: a killed, stopped, wiped or damaged node starts again with its dir, a paused one
    /// resumes, a disk works again (and a node that stopped on it restarts), the network heals.
    private func heal(_ a: ActiveFault) async {
        guard active.removeValue(forKey: a.id) != nil else { return }
        let node = a.node
        var detail = #"{"id":\#(a.id),"node":\#(node + 1)}"#
        switch a.type {
        case .powerLoss:
            var restarted: [Int] = []
            for n in a.nodes where !diskless.contains(n) {
                if (try? await cluster.launch(n)) != nil { restarted.append(n + 1) }
            }
            detail = #"{"id":\#(a.id),"nodes":\#(a.nodes.map { $0 + 1 }),"restarted":\#(restarted)}"#
        case .kill, .stop, .member, .corrupt:
            if refused.contains(node) {
                detail = #"{"id":\#(a.id),"node":\#(node + 1),"restarted":false,"why":"refused to start"}"#
            } else {
                do {
                    try await cluster.launch(node)
                    detail = #"{"id":\#(a.id),"node":\#(node + 1),"restarted":true}"#
                } catch {
                    detail = #"{"id":\#(a.id),"node":\#(node + 1),"restarted":false,"error":\#(HistoryWriter.quote("\(error)"))}"#
                }
            }
        case .pause:
            await cluster.signal(node, SIGCONT)
        case .disk:
            try? disk?.set(node, nil)
            let failed = disk?.injected(node) ?? 0
            detail = #"{"id":\#(a.id),"node":\#(node + 1),"error":"\#((a.diskError ?? .eio).rawValue)","failed_calls":\#(failed)}"#
            await restartFailStopped(node)
        case .full:
            if let task = topUps.removeValue(forKey: node) {
                task.cancel()
                await task.value
            }
            disk?.drain(await cluster.directory(node))
            await restartFailStopped(node)
        case .clock:
            let lead = clocks?.heal(node) ?? 0
            detail = #"{"id":\#(a.id),"node":\#(node + 1),"monotonic_shift_ms":\#(lead)}"#
        case .partition, .delay, .loss:
            if let network, let ended = await network.heal(a.id) { detail = Self.withID(ended.detail, a.id) }
        case .transfer:
            detail = #"{"id":\#(a.id)}"#
        case .hold:
            gate?.release(a.hold ?? .writes)
            detail = #"{"id":\#(a.id),"hold":"\#((a.hold ?? .writes).rawValue)"}"#
        }
        await history.nemesis("stop", fault: a.type.rawValue, detail: detail)
    }

    private func restartFailStopped(_ node: Int) async {
        guard failStopped.remove(node) != nil else { return }
        try? await cluster.launch(node)
    }

    /// Ends every fault still in force (the plan's tasks heal their own; this is for the end of the run).
    func heal() async {
        for a in active.values.sorted(by: { $0.id < $1.id }) { await heal(a) }
    }

    /// Nodes that died without the nemesis killing them (a crash), restarted so the run goes on.
    func reapCrashes() async -> [Int] {
        var crashed: [Int] = []
        let count = await cluster.allAddresses.count
        let downOnPurpose = Set(active.values.filter { [.kill, .stop, .member, .corrupt, .powerLoss].contains($0.type) }.flatMap(\.nodes))
        for i in 0..<count where !downOnPurpose.contains(i) && !refused.contains(i) && !failStopped.contains(i) && !diskless.contains(i) {
            guard await cluster.isStarted(i), !(await cluster.isRunning(i)) else { continue }
            // A node whose data was damaged on purpose may refuse to start, with a clear error: that is
            // allowed (it must not serve wrong data); it stays down and the run goes on without it. Not for a
            // target that recovers damaged data from its peers: there it is a crash.
            let log = Self.explain(await cluster.log(i))
            if damaged.contains(i), !target.recoversFromDamage, target.refusalMarker.map({ log.contains($0) }) ?? true {
                refused.insert(i)
                await history.nemesis("start", fault: "refused-to-start", detail: #"{"node":\#(i + 1),"log":\#(HistoryWriter.quote(log))}"#)
                await cluster.kill(i)
                continue
            }
            // A node stops on its own at the first failed disk write (fail-stop): expected under a disk fault.
            // It restarts when the fault ends (now, if it already has).
            if diskFaulted.contains(i), target.failStopMarker.map({ log.contains($0) }) ?? true {
                failStops += 1
                await history.nemesis("start", fault: "fail-stop", detail: #"{"node":\#(i + 1),"log":\#(HistoryWriter.quote(log))}"#)
                await cluster.kill(i)
                let stillFaulted = active.values.contains { ($0.type == .disk || $0.type == .full) && $0.node == i }
                if stillFaulted {
                    failStopped.insert(i)
                } else {
                    try? await cluster.launch(i)
                }
                continue
            }
            crashed.append(i + 1)
            await history.nemesis("start", fault: "crash", detail: #"{"node":\#(i + 1),"log":\#(HistoryWriter.quote(log))}"#)
            await cluster.kill(i)
            try? await cluster.launch(i)
        }
        return crashed
    }

    /// A dead node's last lines, led by its last error line when that scrolled out of them (go-dqlite's
    /// demo prints its usage after the error).
    static func explain(_ log: String) -> String {
        let lines = log.split(separator: "\n")
        let tail = lines.suffix(5).joined(separator: " | ")
        guard let error = lines.suffix(60).last(where: { $0.contains("Error") || $0.contains("error:") }), !tail.contains(error) else {
            return tail.isEmpty ? "(empty log)" : tail
        }
        return String(error) + " | ... | " + tail
    }

    static func quickConfig(_ tls: TLSContext?) -> ClientConfig {
        var c = ClientConfig()
        c.tls = tls
        c.leaderTimeout = .seconds(1)
        c.dialTimeout = .milliseconds(500)
        c.requestTimeout = .seconds(1)
        c.retry = .none
        return c
    }
}

/// A fault as it was applied: concrete enough to apply again exactly (`--replay`).
public struct AppliedFault: Codable, Sendable, Equatable {
    public var atS: Double
    public var type: FaultType
    /// 1-based: the node it hit (transfer: the leader it moved from).
    public var node: Int
    public var wasLeader: Bool
    public var forS: Double
    /// Partitions: the shape and its groups (1-based node ids); delay and loss: what the proxies did.
    public var shape: PartitionShape?
    public var groups: [[Int]]?
    public var link: LinkFault?
    /// The plan's pick (orders a partition's other nodes, chooses the damage of `corrupt`).
    public var pick: Int?
    /// Transfer: the voter that got leadership (1-based).
    public var to: Int?
    /// Disk: the error returned.
    public var error: DiskErrno?
    /// Clock: how the clocks were bent.
    public var clock: ClockChange?
    /// Hold: what the clients held (`node` is 0).
    public var hold: HoldKind?
    /// Power loss: whether the newest unsynced write was torn, and every node cut (1-based; a group target).
    public var torn: Bool?
    public var nodes: [Int]?
    /// Power loss: the disks' writeback window, seconds (nil: none).
    public var writebackS: Double?

    public init(atS: Double, type: FaultType, node: Int, wasLeader: Bool, forS: Double,
                shape: PartitionShape? = nil, groups: [[Int]]? = nil, link: LinkFault? = nil) {
        self.atS = atS
        self.type = type
        self.node = node
        self.wasLeader = wasLeader
        self.forS = forS
        self.shape = shape
        self.groups = groups
        self.link = link
    }

    /// The same fault as a timeline entry that names its node: what a replay applies.
    public var replayable: PlannedFault {
        var f = PlannedFault(atS: (atS * 1000).rounded() / 1000, type: type, target: wasLeader ? .leader : .one, pick: pick ?? 0,
                             forS: forS, shape: shape, link: link)
        f.node = type == .transfer || type == .hold ? nil : node
        f.to = to
        f.error = error
        f.clock = clock
        f.hold = hold
        f.torn = torn
        f.writebackS = writebackS
        if let nodes {
            f.nodes = nodes
            f.node = nil
            f.target = .all
        }
        // A partition given by its groups has no shape: it is applied again by them.
        if type == .partition, shape == nil { f.groups = groups }
        return f
    }

    enum CodingKeys: String, CodingKey {
        case atS = "at_s", type, node, wasLeader = "was_leader", forS = "for_s", shape, groups, link, pick, to, error, clock, hold, torn, nodes, writebackS = "writeback_s"
    }
}
