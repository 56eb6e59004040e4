import DqliteClient

/// The workload's clients, one per process (Jepsen's clients): each with its own timeout (staggered over
/// `client_timeout_ms`) and, with `binding: node`, knowing only its own node, so after an error it asks that
/// node for the leader again, and until then keeps the connection it has, even to a deposed leader. The final
/// reads use a client that knows every node.
struct WorkloadClients: Sendable {
    private let perWorker: [DqliteClient]
    /// Knows every node, with the scenario's first timeout (final reads, schema).
    let shared: DqliteClient
    /// Which node each worker is bound to (1-based), when bound.
    let boundTo: [Int?]
    /// What a timeline's `hold` phases keep the clients from doing.
    let gate = WorkloadGate()

    init(spec: WorkloadSpec, addresses: [String], tls: TLSContext?) throws(DqliteError) {
        shared = try DqliteClient(addresses: addresses, config: Self.config(timeoutMs: spec.clientTimeoutMs, tls: tls))
        var clients: [DqliteClient] = []
        var bound: [Int?] = []
        for i in 0..<spec.concurrency {
            let node = spec.binding == .node ? i % addresses.count : nil
            clients.append(try DqliteClient(addresses: node.map { [addresses[$0]] } ?? addresses, config: Self.config(timeoutMs: spec.timeoutMs(of: i), tls: tls)))
            bound.append(node.map { $0 + 1 })
        }
        perWorker = clients
        boundTo = bound
    }

    func client(_ worker: Int) -> DqliteClient { perWorker[worker % perWorker.count] }

    /// A request unanswered within the timeout is given up (its outcome unknown when it could have written);
    /// leader discovery and retries of what certainly did not happen get the same budget.
    static func config(timeoutMs: Int, tls: TLSContext?) -> ClientConfig {
        var config = ClientConfig()
        config.tls = tls
        config.requestTimeout = .milliseconds(timeoutMs)
        config.leaderTimeout = .milliseconds(timeoutMs)
        config.dialTimeout = .milliseconds(min(1000, timeoutMs))
        config.retry.deadline = .milliseconds(timeoutMs)
        return config
    }
}
