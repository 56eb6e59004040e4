import DqliteNode

/// How a `DqliteApp` runs its node and manages the cluster's roles (go-dqlite's `app.Option`s).
public struct DqliteAppOptions: Sendable {
    /// The node's id. Nil: 1 for the node that bootstraps a new cluster, a random one for a node that joins;
    /// either way kept in the data dir (`app-id`) and reused on restarts. A given id must match the kept one.
    public var id: UInt64?
    /// Voters the cluster should have (go-dqlite's default 3); the leader promotes and demotes to get there.
    public var voters = 3
    /// Stand-bys (non-voting members kept up to date, ready to replace a voter); default 3.
    public var standBys = 3
    /// Reported by DESCRIBE; the leader spreads voters and stand-bys over failure domains.
    public var failureDomain: UInt64 = 0
    /// Reported by DESCRIBE; a lower weight is preferred for a role when domains tie.
    public var weight: UInt64 = 0
    /// Whether the leader manages roles (go-dqlite's app). Off: a joining node takes voter while fewer than
    /// three voters exist, else stand-by, and nothing moves afterwards (`dqlite-node`'s default).
    public var automaticRoles = true
    /// How often the leader polls the members and adjusts roles.
    public var rolesAdjustmentInterval: Duration = .seconds(1)
    /// A member that has not answered the leader's poll for this long loses its role (spare), and an online
    /// member takes it: a voter SIGKILLed is replaced within this plus an interval and the promotion's commit.
    public var unreachableAfter: Duration = .seconds(3)
    /// How long a new node keeps trying to join through `cluster` before `DqliteApp.init` fails.
    public var joinTimeout: Duration = .seconds(60)
    /// Fix glibc's mmap threshold as the node binary does (`MallocPolicy`): without it, freed snapshot and log
    /// buffers stay in malloc's arenas (150-180 MB per node measured). Process-wide; off leaves malloc alone.
    public var fixMallocThreshold = true
    /// HOST:PORT for the metrics endpoint (`GET /metrics`, Prometheus's text format); nil: none. Setting it
    /// bootstraps swift-metrics with swift-prometheus for the whole process (leave it nil when the program
    /// has its own swift-metrics backend: the node's metrics go there).
    public var metricsAddress: String?
    /// The node's own settings (timeouts, snapshots, apply timeout, logging).
    public var node = NodeSettings()

    public init() {}
}
