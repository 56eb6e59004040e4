import Synchronization
import DqliteWire

/// The entry point: a set of node addresses (the node store), the last leader seen, and the configuration.
/// It finds the leader, opens database connections and gives admin access.
///
///     let client = try DqliteClient(addresses: ["127.0.0.1:9001", "127.0.0.1:9002"])
///     let db = try await client.open("demo")
///     try await db.exec("INSERT INTO t VALUES(?)", [.integer(1)])
public final class DqliteClient: Sendable {
    public let config: ClientConfig
    private let state: Mutex<State>

    private struct State {
        var addresses: [String]
        var lastLeader: String?
    }

    public init(addresses: [String], config: ClientConfig = ClientConfig()) throws(DqliteError) {
        guard !addresses.isEmpty else { throw .misuse("no node addresses given") }
        for a in addresses { _ = try NodeAddress(parsing: a) }
        self.config = config
        state = Mutex(State(addresses: addresses, lastLeader: nil))
    }

    /// The node store.
    public var addresses: [String] { state.withLock { $0.addresses } }

    /// Replaces the node store (e.g. with the addresses a CLUSTER request returned).
    public func setAddresses(_ addresses: [String]) {
        guard !addresses.isEmpty else { return }
        state.withLock { $0.addresses = addresses }
    }

    /// A registered connection to the current leader.
    public func connectToLeader() async throws(DqliteError) -> NodeClient {
        let (addresses, last) = state.withLock { ($0.addresses, $0.lastLeader) }
        let client = try await LeaderFinder(config: config).find(addresses: addresses, lastLeader: last)
        state.withLock { $0.lastLeader = client.address }
        return client
    }

    /// The leader's address, found as clients find it.
    public func leaderAddress() async throws(DqliteError) -> String {
        let client = try await connectToLeader()
        defer { client.close() }
        return client.address
    }

    /// Opens `database` on the leader; the connection follows the leader when it changes (see `Connection`).
    public func open(_ database: String) async throws(DqliteError) -> Connection {
        let connection = Connection(client: self, database: database)
        try await connection.connect()
        return connection
    }

    /// Runs an admin operation on the leader, retried on a new leader per the retry policy when it certainly
    /// did not happen.
    public func withLeader<T: Sendable>(_ body: (NodeClient) async throws(DqliteError) -> T) async throws(DqliteError) -> T {
        let start = ContinuousClock.now
        var attempt = 1
        while true {
            do {
                let client = try await connectToLeader()
                defer { client.close() }
                return try await body(client)
            } catch {
                guard config.retry.shouldRetry(error, attempt: attempt, start: start) else { throw error }
                try? await Task.sleep(for: config.retry.backoff(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    /// The cluster configuration as the leader knows it.
    public func cluster() async throws(DqliteError) -> [NodeInfo] {
        try await withLeader { c throws(DqliteError) in try await c.cluster() }
    }

    /// Admin access to one specific node (describe, weight, dump act on that node).
    public func node(_ address: String) async throws(DqliteError) -> NodeClient {
        try await NodeClient.connect(to: address, config: config)
    }

    func forgetLeader(_ address: String) {
        state.withLock { if $0.lastLeader == address { $0.lastLeader = nil } }
    }
}
