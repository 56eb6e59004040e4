/// A chaos scenario, as written in a YAML file under Scenarios/ (schema in the README). Every field has a
/// default, so a scenario names only what it changes.
public struct Scenario: Codable, Sendable, Equatable {
    public var name = "default"
    /// smoke (every CI run), nightly or soak.
    public var tier = Tier.smoke
    /// `fail` for scenarios that break a guarantee on purpose: the run succeeds when a check fails.
    public var expect = Expectation.pass
    /// With `expect: fail`: the history check must report one of these anomaly types (e.g. G-single-realtime);
    /// empty: any failed check will do.
    public var expectAnomalies: [String] = []
    public var cluster = ClusterSpec()
    public var workload = WorkloadSpec()
    /// How long the workload runs with faults, in seconds.
    public var durationS: Double = 30
    public var faults = FaultSpec()
    public var final = FinalSpec()
    /// The checks that decide the verdict.
    public var checks: [Check] = Check.allCases

    public init() {}

    public enum Tier: String, Codable, Sendable { case smoke, nightly, soak }
    public enum Expectation: String, Codable, Sendable { case pass, fail }
    public enum Check: String, Codable, Sendable, CaseIterable {
        case history, durability, convergence, liveness, crashes
    }

    enum CodingKeys: String, CodingKey {
        case name, tier, expect, expectAnomalies = "expect_anomalies", cluster, workload, durationS = "duration_s", faults, final, checks
    }
}

public struct ClusterSpec: Codable, Sendable, Equatable {
    /// The program under test (see `TargetKind`); `command` takes `command` as its template.
    public var target = TargetKind.dqliteNode
    /// `target: command`: the command line that starts node `{id}` (placeholders in `CommandTemplate`).
    public var command: String?
    /// `target: command`: whether the program answers DUMP (durability and convergence read each node's copy
    /// through it; without, those two checks are skipped and the report says so).
    public var dump = true
    /// `target: command`: log lines that mean the program crashed (e.g. "panic:"); none given, only exits the
    /// nemesis did not cause count as crashes, and the report says so.
    public var crashMarkers: [String] = []
    public var nodes = 3
    public var electionTimeoutMs = 1000
    public var heartbeatTimeoutMs = 100
    public var snapshotThreshold = 1024
    public var snapshotTrailing = 8192
    /// dqlite's reads (no leadership confirmation) instead of our linearizable default.
    public var staleReads = false
    /// Extra dqlite-node flags (e.g. the test-only flags that break a guarantee on purpose).
    public var nodeArgs: [String] = []
    /// netns: each node in its own network namespace on a bridge (partitions, delay, loss); loopback: all on
    /// 127.0.0.1 (no network faults). nil: netns when running as root and `ip netns` works, else loopback.
    public var isolation: Isolation?
    /// Size of each node's tmpfs data dir when the scenario has full-disk faults (MiB).
    public var tmpfsMiB = 160
    /// Mutual TLS between the nodes and for every client of the bed (dqlite-node only): the run makes a CA
    /// and a cluster certificate in its artifacts (`tls/`).
    public var tls = false

    public init() {}

    public enum Isolation: String, Codable, Sendable, CaseIterable { case netns, loopback }

    enum CodingKeys: String, CodingKey {
        case target, command, dump, crashMarkers = "crash_markers", nodes, electionTimeoutMs = "election_timeout_ms", heartbeatTimeoutMs = "heartbeat_timeout_ms",
             snapshotThreshold = "snapshot_threshold", snapshotTrailing = "snapshot_trailing",
             staleReads = "stale_reads", nodeArgs = "node_args", isolation, tmpfsMiB = "tmpfs_mib", tls
    }
}

public struct WorkloadSpec: Codable, Sendable, Equatable {
    /// list-append (transactions of inserts and reads), set (unique inserts, whole-set reads) or register
    /// (read, write and compare-and-set of per-key registers).
    public var model = "list-append"

    public enum Model: String, CaseIterable, Sendable {
        case listAppend = "list-append", set, register
        /// The model named in the history (HISTORY.md): registers get compare-and-set.
        var historyModel: String { self == .register ? "cas-register" : rawValue }
    }
    /// Keys in use at once; a key that reached `maxWritesPerKey` is replaced by a fresh one.
    public var keys = 8
    /// Micro-operations per transaction, inclusive range.
    public var txnLength = [1, 4]
    public var maxWritesPerKey = 64
    /// Clients running at once (Jepsen's concurrency).
    public var concurrency = 4
    /// Transactions per second, all clients together (0: as fast as they go).
    public var rateHz: Double = 100
    /// A transaction not answered within this is recorded as `info` (outcome unknown). With
    /// `clientTimeoutMaxMs` above it, the clients' timeouts are staggered evenly over the range, so they do not
    /// all give up on a stuck leader at once (`client_timeout_ms: [low, high]`).
    public var clientTimeoutMs = 3000
    public var clientTimeoutMaxMs: Int?
    /// any: every client finds the leader through every node; node: client i knows only node i mod n (as
    /// Jepsen's clients, each bound to its node), keeps its connection and asks its own node for the leader
    /// again only after an error or a timeout: a client on a deposed leader keeps talking to it.
    public var binding = Binding.any
    /// The first `readOnly` clients only read, the next `writeOnly` only write, the rest do both.
    public var readOnly = 0
    public var writeOnly = 0
    /// list-append: how a transaction that appends starts. `immediate` takes the write lock first, so it
    /// cannot fail at its first write with SQLITE_BUSY_SNAPSHOT (a deferred one upgraded from a read that a
    /// concurrent commit made stale); read-only transactions always use a plain BEGIN.
    public var begin = BeginMode.immediate

    public enum Binding: String, Codable, Sendable, CaseIterable { case any, node }
    public enum BeginMode: String, Codable, Sendable, CaseIterable { case immediate, deferred }

    /// What client `index` does.
    public enum Role: String, Sendable { case read, write, mixed }
    public func role(of index: Int) -> Role {
        index < readOnly ? .read : index < readOnly + writeOnly ? .write : .mixed
    }

    /// Client `index`'s timeout: staggered over [clientTimeoutMs, clientTimeoutMaxMs].
    public func timeoutMs(of index: Int) -> Int {
        guard let hi = clientTimeoutMaxMs, hi > clientTimeoutMs, concurrency > 1 else { return clientTimeoutMs }
        return clientTimeoutMs + (hi - clientTimeoutMs) * (index % concurrency) / (concurrency - 1)
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case model, keys, txnLength = "txn_length", maxWritesPerKey = "max_writes_per_key", concurrency,
             rateHz = "rate_hz", clientTimeoutMs = "client_timeout_ms", clientTimeoutMaxMs = "client_timeout_max_ms",
             binding, readOnly = "read_only", writeOnly = "write_only", begin
    }
}

public struct FaultSpec: Codable, Sendable, Equatable {
    /// random: drawn from the seed out of `kinds`; explicit: `timeline`; none: no faults.
    public var mode = Mode.random
    /// Quiet time between two faults, seconds, drawn uniformly from this range.
    public var intervalS: [Double] = [2, 4]
    public var kinds: [FaultKind] = [
        FaultKind(type: .kill, targets: [.one, .leader], forS: [1, 3], weight: 2),
        FaultKind(type: .pause, targets: [.one, .leader], forS: [1, 3], weight: 1),
    ]
    public var timeline: [PlannedFault] = []
    /// Random mode: up to this many faults in force at once (of different nodes; one network fault at a time),
    /// as Jepsen's combined nemesis overlaps them. 1: one fault at a time.
    public var maxConcurrent = 1

    public init() {}

    public enum Mode: String, Codable, Sendable { case random, explicit, none }

    enum CodingKeys: String, CodingKey { case mode, intervalS = "interval_s", kinds, timeline, maxConcurrent = "max_concurrent" }
}

/// Fault types this build can apply (partition, delay and loss need netns isolation).
public enum FaultType: String, Codable, Sendable, CaseIterable {
    /// SIGKILL, restart after the duration.
    case kill
    /// SIGTERM (graceful: hand leadership over, stop), restart after the duration.
    case stop
    /// SIGSTOP, SIGCONT after the duration.
    case pause
    /// Node-to-node packets dropped (iptables inside the namespaces) in a `shape`; clients still reach every node.
    case partition
    /// Raft traffic of the target's links delayed (with jitter) by the link proxies.
    case delay
    /// Raft connections of the target's links cut with a probability per forwarded chunk, new ones refused alike.
    case loss
    /// Leadership handed to another voter (TRANSFER through the leader); the target picks which.
    case transfer
    /// The target is removed from the configuration (REMOVE through the leader), killed and its data wiped;
    /// after the duration it starts afresh and joins again. Node 1 is never chosen: with an empty dir it would
    /// bootstrap a new cluster.
    case member
    /// Damage at rest: the target is killed, then its newest Raft segment (closed or open) or snapshot is
    /// truncated or has bytes flipped (`pick` chooses); after the duration it restarts. It must recover, or
    /// refuse to start with a clear error (the run goes on without it), and never serve wrong data.
    case corrupt
    /// Disk errors: the target's writes and syncs under its data dir fail with `error` (EIO or ENOSPC)
    /// through the seccomp launcher (dqlite-disk-faults) for the duration. The node stops at the first
    /// failure (fail-stop, exit 74); it restarts when the fault ends.
    case disk
    /// A full disk: every data dir is a small tmpfs (needs root); a balloon file fills the target's for the
    /// duration, then goes, and a node that stopped restarts.
    case full
    /// The target's clocks bent (`ClockChange`: a rate, a wall-clock jump or a strobe) through the
    /// LD_PRELOAD library dqlite-clock-faults for the duration; then its wall clock is real again.
    case clock
    /// Not a fault of the cluster: the workload's clients hold their writes (`hold: writes`: they read
    /// instead) or every operation (`hold: all`) for the duration. Explicit timelines only: a phase that
    /// builds a fault's preconditions exactly (e.g. figure 8: a new leader that appends nothing).
    case hold
    /// The target's power cut: it is killed and its disk loses everything written since its last sync (per
    /// file, and directory entries not synced with their directory; `torn`: the newest unsynced write keeps
    /// a prefix), through the FUSE layer dqlite-power-loss under every data dir (needs root). It restarts
    /// after the duration. Targets `majority` and `all` cut several nodes at once.
    case powerLoss = "power-loss"

    /// Faults that need each node in its own network namespace.
    public var needsNetns: Bool { self == .partition || self == .delay || self == .loss }

    /// Faults that hold one node (the others act on links, are over at once, or, as a clock fault, leave the
    /// node free for others: a killed node restarts under its bent clocks).
    public var holdsNode: Bool { !needsNetns && self != .transfer && self != .clock && self != .hold }
}

/// How a `clock` fault bends the target's clocks.
public enum ClockMode: String, Codable, Sendable, CaseIterable {
    /// Every clock runs `rate` times as fast as the real ones.
    case rate
    /// The wall clock steps by `jump_s` (monotonic clocks never jump).
    case jump
    /// Every other `strobe_ms` the wall clock is `strobe_s` ahead.
    case strobe
}

/// A `clock` kind: what the seed draws from.
public struct ClockKind: Codable, Sendable, Equatable {
    public var modes: [ClockMode] = ClockMode.allCases
    /// Rates drawn uniformly from this range.
    public var rate: [Double] = [0.5, 2]
    /// Jumps (seconds, negative: back) drawn uniformly from this range.
    public var jumpS: [Double] = [-60, 60]
    public var strobeMs: Double = 200
    public var strobeS: Double = 10
    public init() {}
    enum CodingKeys: String, CodingKey { case modes, rate, jumpS = "jump_s", strobeMs = "strobe_ms", strobeS = "strobe_s" }
}

/// One `clock` fault as applied: its mode and its one number (the others nil).
public struct ClockChange: Codable, Sendable, Equatable {
    public var mode: ClockMode
    public var rate: Double?
    public var jumpS: Double?
    public var strobeMs: Double?
    public var strobeS: Double?
    public init(mode: ClockMode, rate: Double? = nil, jumpS: Double? = nil, strobeMs: Double? = nil, strobeS: Double? = nil) {
        self.mode = mode
        self.rate = rate
        self.jumpS = jumpS
        self.strobeMs = strobeMs
        self.strobeS = strobeS
    }
    enum CodingKeys: String, CodingKey { case mode, rate, jumpS = "jump_s", strobeMs = "strobe_ms", strobeS = "strobe_s" }

    /// What the history and the status line say.
    public var summary: String {
        switch mode {
        case .rate: "rate \(rate ?? 1)x"
        case .jump: "wall clock \((jumpS ?? 0) >= 0 ? "+" : "")\(jumpS ?? 0) s"
        case .strobe: "strobe \(strobeS ?? 0) s every \(strobeMs ?? 0) ms"
        }
    }
}

/// The error a `disk` fault returns from the target's writes and syncs.
public enum DiskErrno: String, Codable, Sendable, CaseIterable {
    case eio, enospc
}

/// Which node a fault hits; resolved when it is applied (the leader at that moment). `majority` and `all`
/// (power-loss only) hit that many of the live nodes at once (a majority always includes the leader).
public enum Target: String, Codable, Sendable, CaseIterable {
    case one, leader, follower, majority, all

    /// Targets that name several nodes.
    public var isGroup: Bool { self == .majority || self == .all }
}

public struct FaultKind: Codable, Sendable, Equatable {
    public var type: FaultType
    public var targets: [Target] = [.one]
    /// How long the fault lasts, seconds, drawn uniformly from this range.
    public var forS: [Double] = [1, 3]
    public var weight = 1
    /// Partitions: the shapes drawn from (the target picks the node the shape centres on).
    public var shapes: [PartitionShape] = []
    /// Delay and loss: how the link proxies treat the target's links.
    public var link = LinkFault()
    /// Disk: the errors drawn from.
    public var errors: [DiskErrno] = []
    /// Clock: what is drawn.
    public var clock = ClockKind()
    /// Power loss: the chance that the newest unsynced write is torn rather than lost whole.
    public var torn: Double = 0
    /// Power loss: changes older than this many seconds survive, as a kernel's periodic writeback would have
    /// flushed them (nil: only syncs make anything durable, as LazyFS has it).
    public var writebackS: Double?

    public init(type: FaultType, targets: [Target] = [.one], forS: [Double] = [1, 3], weight: Int = 1,
                shapes: [PartitionShape] = [], link: LinkFault = LinkFault()) {
        self.type = type
        self.targets = targets
        self.forS = forS
        self.weight = weight
        self.shapes = shapes
        self.link = link
    }

    enum CodingKeys: String, CodingKey { case type, targets, forS = "for_s", weight, shapes, link, errors, clock, torn, writebackS = "writeback_s" }
}

/// One fault of a timeline: planned from the seed (or written by hand), replayable as is.
public struct PlannedFault: Codable, Sendable, Equatable {
    /// Seconds after the workload started.
    public var atS: Double
    public var type: FaultType
    public var target: Target
    /// Among the nodes the target allows, which one (index into them, modulo their count).
    public var pick: Int = 0
    public var forS: Double
    /// Partitions only.
    public var shape: PartitionShape?
    /// Partitions only, instead of a shape: exactly these sides (1-based node ids; a node in no group is on
    /// its own). In an explicit timeline partitions may overlap one another: their cuts add up.
    public var groups: [[Int]]?
    /// Delay and loss only.
    public var link: LinkFault?
    /// Disk only.
    public var error: DiskErrno?
    /// Hold only: what the clients hold.
    public var hold: HoldKind?
    /// Exactly this node (1-based), whatever `target` says: a replay applies each fault where it was applied.
    public var node: Int?
    /// Transfer only, with `node`: the voter leadership went to (1-based).
    public var to: Int?
    /// Clock only.
    public var clock: ClockChange?
    /// Power loss only: the newest unsynced write keeps a prefix.
    public var torn: Bool?
    /// Power loss with a group target, as applied: exactly these nodes (1-based).
    public var nodes: [Int]?
    /// Power loss only: see `FaultKind.writebackS` (the disks of a run take the largest of its faults').
    public var writebackS: Double?

    public init(atS: Double, type: FaultType, target: Target, pick: Int = 0, forS: Double,
                shape: PartitionShape? = nil, link: LinkFault? = nil) {
        self.atS = atS
        self.type = type
        self.target = target
        self.pick = pick
        self.forS = forS
        self.shape = shape
        self.link = link
    }

    enum CodingKeys: String, CodingKey { case atS = "at_s", type, target, pick, forS = "for_s", shape, groups, link, error, hold, node, to, clock, torn, nodes, writebackS = "writeback_s" }
}

public struct FinalSpec: Codable, Sendable, Equatable {
    /// After healing, wait this long before the final reads.
    public var settleS: Double = 2
    /// A write must succeed within this many seconds of healing (liveness).
    public var recoverWithinS: Double = 20

    public init() {}

    enum CodingKeys: String, CodingKey { case settleS = "settle_s", recoverWithinS = "recover_within_s" }
}

extension Scenario {
    /// What `dqlite-chaos run` runs without a scenario: 3 nodes, list-append, kills and pauses of any node or
    /// the leader, about 30 s.
    public static var builtInDefault: Scenario {
        var s = Scenario()
        s.name = "default"
        s.durationS = 30
        s.faults.kinds = [
            FaultKind(type: .kill, targets: [.one, .leader], forS: [1, 3], weight: 2),
            FaultKind(type: .stop, targets: [.leader], forS: [1, 2], weight: 1),
            FaultKind(type: .pause, targets: [.one, .leader], forS: [1, 3], weight: 1),
        ]
        return s
    }
}

extension Scenario {
    /// The fault types the scenario can apply (its timeline's, or its weighted kinds').
    public var faultTypes: Set<FaultType> {
        switch faults.mode {
        case .none: []
        case .explicit: Set(faults.timeline.map(\.type))
        case .random: Set(faults.kinds.filter { $0.weight > 0 }.map(\.type))
        }
    }

    /// Whether a run needs root: network namespaces (asked for, or needed by partitions, delay and loss) or
    /// tmpfs data dirs (full disks) or FUSE mounts (power loss).
    public var needsRoot: Bool {
        cluster.isolation == .netns || faultTypes.contains { $0.needsNetns || $0 == .full || $0 == .powerLoss }
    }
}
