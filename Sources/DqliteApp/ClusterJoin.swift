import DqliteClient
import DqliteWire

/// How a new node enters a cluster through addresses of running members. Every step checks the
/// configuration first, so a join interrupted (a kill, a leader change) is finished by trying again.
enum ClusterJoin {
    /// ADD as spare when not a member yet. With automatic roles that is all: the leader's role loop gives
    /// the node what the cluster needs. Without, ASSIGN voter while fewer than three voters exist, else
    /// stand-by (the node binary's policy before the app). Returns the role taken.
    @discardableResult
    static func join(id: UInt64, address: String, through addresses: [String], automaticRoles: Bool,
                     alreadyJoinedIsEnough: Bool = false, tls: TLSContext?) async throws(DqliteError) -> NodeRole {
        var config = ClientConfig()
        config.tls = tls
        config.leaderTimeout = .seconds(30)
        config.retry.retryBusy = true  // "configuration change already in progress" while another node joins
        let client = try DqliteClient(addresses: addresses, config: config)
        let members = try await client.cluster()
        if alreadyJoinedIsEnough, let mine = members.first(where: { $0.id == id }), mine.knownRole != .spare || automaticRoles {
            return mine.knownRole ?? .spare
        }
        if !members.contains(where: { $0.id == id }) {
            try await client.withLeader { c throws(DqliteError) in try await c.add(id: id, address: address) }
        }
        if automaticRoles { return .spare }
        let now = try await client.cluster()
        let voters = now.filter { $0.knownRole == .voter }.count
        var role: NodeRole
        if let mine = now.first(where: { $0.id == id })?.knownRole, mine != .spare {
            return mine  // an earlier attempt got this far
        }
        role = voters < 3 ? .voter : .standBy
        try await client.withLeader { c throws(DqliteError) in try await c.assign(id: id, role: role) }
        if role == .voter {
            // Nodes joining at the same time may all have seen fewer than three voters. Whoever sees more
            // than three afterwards moves the excess voters with the highest ids (never the first three) to
            // stand-by; a node already moved by another joiner is left as it is.
            let all = try await client.cluster().filter { $0.knownRole == .voter }.map(\.id).sorted()
            for extra in all.dropFirst(3) {
                if extra == id { role = .standBy }
                _ = try? await client.withLeader { c throws(DqliteError) in try await c.assign(id: extra, role: .standBy) }
            }
        }
        return role
    }
}
