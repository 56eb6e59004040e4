import CoreMetrics
import DqliteWire
import Synchronization

/// What a node reports through swift-metrics, to whatever backend the program bootstrapped (`dqlite-node
/// --metrics` and `DqliteApp` expose Prometheus's text format); with none, swift-metrics drops them at next
/// to no cost. Each handle is made once, so serving a request only increments and records.
final class NodeMetrics: Sendable {
    private let requests: [RequestType: Counter]
    private let requestDurations: [RequestType: CoreMetrics.Timer]
    private let errors = Mutex<[UInt64: Counter]>([:])
    /// From a FRAMES entry's proposal to its commit (the replication a write waits for).
    let commitDuration = CoreMetrics.Timer(label: "dqlite_commit_duration_seconds")
    let committedTransactions = Counter(label: "dqlite_committed_transactions_total")
    let failedEntries = Counter(label: "dqlite_failed_entries_total")
    let connections = Gauge(label: "dqlite_connections")
    let snapshots = Counter(label: "dqlite_snapshots_total")
    let snapshotDuration = CoreMetrics.Timer(label: "dqlite_snapshot_duration_seconds")
    let snapshotBytes = Gauge(label: "dqlite_snapshot_bytes")
    /// 1 while the snapshots C-Raft stores are LZ4-compressed (`SnapshotCompression`).
    let snapshotCompressed = Gauge(label: "dqlite_snapshot_compressed")
    let leaseRenewals = Counter(label: "dqlite_read_lease_renewals_total")
    // Sampled every second by `MetricsSampler`.
    let term = Gauge(label: "dqlite_raft_term")
    let commitIndex = Gauge(label: "dqlite_raft_commit_index")
    let appliedIndex = Gauge(label: "dqlite_raft_applied_index")
    /// C-Raft's state: 0 unavailable, 1 follower, 2 candidate, 3 leader.
    let raftState = Gauge(label: "dqlite_raft_state")
    /// This node's role in the configuration: 0 voter, 1 stand-by, 2 spare (dqlite's codes), -1 not a member.
    let role = Gauge(label: "dqlite_role")
    let leaderChanges = Counter(label: "dqlite_leader_changes_total")
    let leaseHeld = Gauge(label: "dqlite_read_lease_held")
    let databaseBytes = Gauge(label: "dqlite_database_bytes")
    let walBytes = Gauge(label: "dqlite_wal_bytes")
    let logBytes = Gauge(label: "dqlite_raft_log_bytes")
    /// `MemoryBreakdown`'s parts, every 5 s.
    let memory: [String: Gauge] = Dictionary(uniqueKeysWithValues: MemoryBreakdown().parts.map {
        ($0.0, Gauge(label: "dqlite_memory_bytes", dimensions: [("part", $0.0)]))
    })

    init() {
        var counters: [RequestType: Counter] = [:], timers: [RequestType: CoreMetrics.Timer] = [:]
        for type in RequestType.allCases {
            let name = Self.name(type)
            counters[type] = Counter(label: "dqlite_requests_total", dimensions: [("type", name)])
            timers[type] = CoreMetrics.Timer(label: "dqlite_request_duration_seconds", dimensions: [("type", name)])
        }
        requests = counters
        requestDurations = timers
    }

    /// A request of `type` answered after `nanoseconds`; `errorCode` when the answer was a FAILURE.
    func served(_ type: RequestType, nanoseconds: Int64, errorCode: UInt64?) {
        requests[type]?.increment()
        requestDurations[type]?.recordNanoseconds(nanoseconds)
        if let code = errorCode {
            let counter = errors.withLock { e in
                if let c = e[code] { return c }
                let c = Counter(label: "dqlite_request_errors_total", dimensions: [("code", String(code))])
                e[code] = c
                return c
            }
            counter.increment()
        }
    }

    /// A FRAMES entry of `transactions` transactions, proposed at `since`, came back with Raft `status`.
    func recordCommit(since: ContinuousClock.Instant, status: Int32, transactions: Int) {
        guard status == 0 else { return failedEntries.increment() }
        commitDuration.recordNanoseconds((ContinuousClock.now - since).nanoseconds)
        committedTransactions.increment(by: transactions)
    }

    /// A snapshot of `bytes` bytes stored, taken from `since` (nil when its start was not seen).
    func recordSnapshot(since: ContinuousClock.Instant?, bytes: Int) {
        snapshots.increment()
        snapshotBytes.record(bytes)
        if let since { snapshotDuration.recordNanoseconds((ContinuousClock.now - since).nanoseconds) }
    }

    static func name(_ type: RequestType) -> String {
        switch type {
        case .leader: "leader"
        case .client: "client"
        case .heartbeat: "heartbeat"
        case .open: "open"
        case .prepare: "prepare"
        case .exec: "exec"
        case .query: "query"
        case .finalize: "finalize"
        case .execSQL: "exec_sql"
        case .querySQL: "query_sql"
        case .interrupt: "interrupt"
        case .connect: "connect"
        case .add: "add"
        case .assign: "assign"
        case .remove: "remove"
        case .dump: "dump"
        case .cluster: "cluster"
        case .transfer: "transfer"
        case .describe: "describe"
        case .weight: "weight"
        }
    }
}

extension Duration {
    /// Whole nanoseconds, as swift-metrics' timers take them.
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
