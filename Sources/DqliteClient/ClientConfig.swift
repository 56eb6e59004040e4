/// Timeouts and retry behaviour. Defaults follow go-dqlite where it has one.
public struct ClientConfig: Sendable {
    /// Connecting and handshaking with one node.
    public var dialTimeout: Duration = .seconds(5)
    /// One request and its reply (each ROWS batch counts as a reply).
    public var requestTimeout: Duration = .seconds(15)
    /// Finding the leader, over all probing rounds.
    public var leaderTimeout: Duration = .seconds(15)
    /// How many nodes are probed at once when looking for the leader.
    public var maxParallelProbes = 10
    /// Retry of operations that certainly did not happen.
    public var retry = RetryPolicy()
    /// Largest message accepted from a server.
    public var maxMessageBytes: UInt64 = 256 << 20
    /// The client id sent in CLIENT.
    public var clientID: UInt64 = 0
    /// Mutual TLS to every node (a cluster whose nodes run with TLS); nil: plain TCP.
    public var tls: TLSContext?

    public init() {}
}

/// go-dqlite's driver retries on a fresh connection when the error says the operation did not happen
/// (not leader, connection refused, …). It never retries an operation whose outcome is unknown (a commit
/// cut by leadership loss or a lost connection), and retries "database is locked" only when asked.
public struct RetryPolicy: Sendable {
    /// Give up retrying after this long (from the first attempt).
    public var deadline: Duration = .seconds(30)
    /// At most this many attempts (1 = no retry).
    public var maxAttempts = 100
    public var initialBackoff: Duration = .milliseconds(100)
    /// Capped low: while a new leader is being elected, a long backoff would only add to the failover.
    public var maxBackoff: Duration = .milliseconds(250)
    /// Also retry SQLITE_BUSY / "database is locked" (dqlite 1.11 returns it at once to a second writer).
    public var retryBusy = false

    public init() {}

    /// One attempt only.
    public static var none: RetryPolicy {
        var p = RetryPolicy()
        p.maxAttempts = 1
        return p
    }

    /// Whether `error` after `attempt` attempts (counted from 1) started at `start` should be retried.
    public func shouldRetry(_ error: DqliteError, attempt: Int, start: ContinuousClock.Instant) -> Bool {
        guard attempt < maxAttempts, ContinuousClock.now - start < deadline else { return false }
        guard error.outcome == .didNotHappen else { return false }
        return error.isRetryable || (retryBusy && error.kind == .busy)
    }

    /// Exponential backoff: initial, doubled each attempt, capped.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        var d = initialBackoff
        for _ in 1..<max(1, attempt) where d < maxBackoff { d *= 2 }
        return min(d, maxBackoff)
    }
}
