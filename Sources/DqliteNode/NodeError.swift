import DqliteWire

/// Failures of the node, each with the dqlite/SQLite code a client would receive for it.
public enum NodeError: Error, Equatable, CustomStringConvertible {
    case system(String)
    case raft(Int32, String)
    case sqlite(Int32, String)
    case notLeader
    case leadershipLost
    /// A write's entry was not committed within the apply timeout (ms); it may still commit.
    case applyTimeout(UInt32)
    case invalid(String)

    /// The code of the FAILURE response for this error (reference/dqlite.md §1.8).
    public var code: UInt64 {
        switch self {
        case .notLeader: ErrorCode.notLeader
        case .leadershipLost: ErrorCode.leadershipLost
        case .sqlite(let rc, _): UInt64(UInt32(bitPattern: rc))
        // An I/O error, as a failed Raft apply: clients take it as "may have happened" (never retried blindly).
        case .raft, .system, .applyTimeout: ErrorCode.sqliteIOErr
        case .invalid: ErrorCode.sqliteError
        }
    }

    public var description: String {
        switch self {
        case .system(let m): m
        case let .raft(rc, m): "\(m) (raft error \(rc))"
        case .sqlite(_, let m): m
        case .notLeader: "not leader"
        case .leadershipLost: "leadership lost"
        case .applyTimeout(let ms): "commit timed out: not committed within \(ms) ms (no quorum reached); it may still commit, outcome unknown"
        case .invalid(let m): m
        }
    }
}
