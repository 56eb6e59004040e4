import DqliteWire

/// Cluster administration through one node, like go-dqlite's `client.Client`. Requests that need the leader
/// (add, assign, remove, transfer) fail with not-leader elsewhere; describe, weight and dump act on the node
/// dialled; cluster reports that node's view of the configuration.
public final class NodeClient: Sendable {
    public let connection: WireConnection
    public let timeout: Duration

    public var address: String { connection.address }

    public init(connection: WireConnection, timeout: Duration) {
        self.connection = connection
        self.timeout = timeout
    }

    /// Dials `address` and registers as a client (CLIENT → WELCOME).
    public static func connect(to address: String, config: ClientConfig = ClientConfig()) async throws(DqliteError) -> NodeClient {
        let wire = try await WireConnection.dial(address, timeout: config.dialTimeout, maxMessageBytes: config.maxMessageBytes, tls: config.tls)
        let client = NodeClient(connection: wire, timeout: config.requestTimeout)
        do {
            try await client.register(clientID: config.clientID)
        } catch {
            wire.close()
            throw error
        }
        return client
    }

    public func close() { connection.close() }

    func register(clientID: UInt64) async throws(DqliteError) {
        guard case .welcome = try await call(.client(id: clientID)) else { throw unexpected("WELCOME") }
    }

    /// The leader as this node knows it, or nil when it knows none.
    public func leader() async throws(DqliteError) -> NodeInfo? {
        guard case let .server(id, address) = try await call(.leader) else { throw unexpected("SERVER") }
        return address.isEmpty ? nil : NodeInfo(id: id, address: address, role: nil)
    }

    /// This node's view of the configuration, with roles.
    public func cluster() async throws(DqliteError) -> [NodeInfo] {
        guard case .servers(let nodes) = try await call(.cluster(format: ClusterFormat.v1.rawValue)) else { throw unexpected("SERVERS") }
        return nodes
    }

    /// Adds a node (it joins as spare), then assigns `role` unless that is spare, as go-dqlite's `Add` does.
    public func add(id: UInt64, address: String, role: NodeRole = .spare) async throws(DqliteError) {
        try await expectEmpty(.add(id: id, address: address))
        if role != .spare { try await assign(id: id, role: role) }
    }

    public func assign(id: UInt64, role: NodeRole) async throws(DqliteError) {
        try await expectEmpty(.assign(id: id, role: role.rawValue))
    }

    public func remove(id: UInt64) async throws(DqliteError) { try await expectEmpty(.remove(id: id)) }

    /// Transfers leadership to `id` (0 lets the leader choose).
    public func transfer(to id: UInt64) async throws(DqliteError) { try await expectEmpty(.transfer(id: id)) }

    public func describe() async throws(DqliteError) -> (failureDomain: UInt64, weight: UInt64) {
        guard case let .metadata(domain, weight) = try await call(.describe(format: 0)) else { throw unexpected("METADATA") }
        return (domain, weight)
    }

    public func setWeight(_ weight: UInt64) async throws(DqliteError) { try await expectEmpty(.weight(weight)) }

    /// This node's copy of `database`: the main file and its WAL.
    public func dump(database: String) async throws(DqliteError) -> [DumpFile] {
        guard case .files(let files) = try await call(.dump(name: database)) else { throw unexpected("FILES") }
        return files
    }

    /// Sends a request; a FAILURE reply becomes `DqliteError.server`.
    func call(_ request: Request) async throws(DqliteError) -> Response {
        let response = try await connection.call(request, timeout: timeout)
        if case let .failure(code, message) = response { throw .server(code: code, message: message) }
        return response
    }

    private func expectEmpty(_ request: Request) async throws(DqliteError) {
        guard case .empty = try await call(request) else { throw unexpected("EMPTY") }
    }

    private func unexpected(_ wanted: String) -> DqliteError {
        connection.close()
        return .protocolError(address: address, reason: "expected \(wanted)")
    }
}
