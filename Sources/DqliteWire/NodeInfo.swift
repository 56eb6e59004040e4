/// A node's role as dqlite numbers it on the wire (Raft's own codes differ).
public enum NodeRole: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    case voter = 0
    case standBy = 1
    case spare = 2

    public var description: String {
        switch self {
        case .voter: "voter"
        case .standBy: "stand-by"
        case .spare: "spare"
        }
    }

    /// Parses "voter", "stand-by"/"standby", "spare".
    public init?(name: String) {
        switch name.lowercased() {
        case "voter": self = .voter
        case "stand-by", "standby": self = .standBy
        case "spare": self = .spare
        default: return nil
        }
    }
}

/// One member of a cluster configuration. `role` is the raw wire code (nil in format 0 replies), so that an
/// unknown role survives a round trip; `knownRole` interprets it.
public struct NodeInfo: Sendable, Hashable {
    public var id: UInt64
    public var address: String
    public var role: UInt64?

    public init(id: UInt64, address: String, role: NodeRole?) {
        self.id = id
        self.address = address
        self.role = role?.rawValue
    }

    public init(id: UInt64, address: String, rawRole: UInt64?) {
        self.id = id
        self.address = address
        self.role = rawRole
    }

    public var knownRole: NodeRole? { role.flatMap(NodeRole.init(rawValue:)) }
}

/// The CLUSTER request's reply layouts.
public enum ClusterFormat: UInt64, Sendable {
    /// id + address.
    case v0 = 0
    /// id + address + role.
    case v1 = 1
}

/// A file in a DUMP reply.
public struct DumpFile: Sendable, Hashable {
    public var name: String
    public var content: [UInt8]

    public init(name: String, content: [UInt8]) {
        self.name = name
        self.content = content
    }
}
