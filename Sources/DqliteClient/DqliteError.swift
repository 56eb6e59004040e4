import DqliteWire

/// Everything the client can fail with. `outcome` tells a caller (and a history recorder) whether the
/// operation certainly did not happen or may have happened; `isRetryable` whether a new connection to the
/// leader may succeed where this one failed (go-dqlite's `ErrBadConn` set).
public enum DqliteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with FAILURE.
    case server(code: UInt64, message: String)
    /// No connection could be made (nothing was sent).
    case dialFailed(address: String, reason: String)
    /// The connection broke. `requestSent`: a request had been (at least partly) written when it broke.
    case connectionLost(address: String, requestSent: Bool, reason: String)
    /// No reply before the deadline; the connection is dropped because a late reply would desynchronise it.
    case timeout(address: String, requestSent: Bool)
    /// No node reported itself as leader before the deadline.
    case noLeader(addresses: [String], lastError: String?)
    /// The server sent bytes that are not the reply this request expects.
    case protocolError(address: String, reason: String)
    case invalidAddress(String, String)
    /// The caller used the API in a way it does not allow (closed cursor, closed connection, …).
    case misuse(String)

    public enum Outcome: Sendable, Equatable {
        /// Certainly not applied: safe to report as `fail` and to retry.
        case didNotHappen
        /// Perhaps applied: report as `info`; never retried automatically.
        case mayHaveHappened
    }

    /// Error classes, for counting and for retry decisions.
    public enum Kind: String, Sendable, CaseIterable {
        case notLeader = "not leader"
        case leadershipLost = "leadership lost"
        case busy = "locked/busy"
        case notFound = "not found"
        case connection = "connection"
        case timeout = "timeout"
        case noLeader = "no leader"
        case sql = "sql"
        case protocolError = "protocol"
        case usage = "usage"
    }

    public var kind: Kind {
        switch self {
        case .server(let code, _):
            switch code {
            case ErrorCode.notLeader, ErrorCode.legacyNotLeader: .notLeader
            case ErrorCode.leadershipLost, ErrorCode.legacyLeadershipLost: .leadershipLost
            default:
                switch ErrorCode.primary(code) {
                case ErrorCode.sqliteBusy, ErrorCode.sqliteLocked: .busy
                case ErrorCode.sqliteNotFound: .notFound
                default: code == 0 ? .connection : .sql
                }
            }
        case .dialFailed, .connectionLost: .connection
        case .timeout: .timeout
        case .noLeader: .noLeader
        case .protocolError: .protocolError
        case .invalidAddress, .misuse: .usage
        }
    }

    public var outcome: Outcome {
        switch self {
        case .server(let code, _):
            if kind == .leadershipLost { return .mayHaveHappened }
            // Other I/O errors come from a failed Raft apply, which may still have been replicated.
            if ErrorCode.primary(code) == ErrorCode.sqliteIOErr && kind != .notLeader { return .mayHaveHappened }
            return .didNotHappen
        case .connectionLost(_, let sent, _), .timeout(_, let sent):
            return sent ? .mayHaveHappened : .didNotHappen
        case .protocolError:
            return .mayHaveHappened
        case .dialFailed, .noLeader, .invalidAddress, .misuse:
            return .didNotHappen
        }
    }

    /// Whether reconnecting to the (possibly new) leader may help, as go-dqlite's driver decides.
    public var isRetryable: Bool {
        switch kind {
        case .notLeader, .leadershipLost, .notFound, .connection, .timeout, .noLeader: true
        case .busy, .sql, .protocolError, .usage: false
        }
    }

    /// The SQLite or dqlite code, when the server sent one.
    public var code: UInt64? {
        if case .server(let code, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case let .server(code, message): "\(message) (code \(code))"
        case let .dialFailed(address, reason): "cannot connect to \(address): \(reason)"
        case let .connectionLost(address, _, reason): "connection to \(address) lost: \(reason)"
        case let .timeout(address, _): "request to \(address) timed out"
        case let .noLeader(addresses, last):
            "no leader reachable among \(addresses.joined(separator: ", "))" + (last.map { " (last error: \($0))" } ?? "")
        case let .protocolError(address, reason): "protocol error from \(address): \(reason)"
        case let .invalidAddress(address, reason): "invalid address '\(address)': \(reason)"
        case .misuse(let m): m
        }
    }
}
