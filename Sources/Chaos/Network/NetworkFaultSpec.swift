/// How a partition cuts the cluster. The fault's target picks the node the shape centres on; the fault's
/// `pick` orders the other nodes, so a seed always draws the same groups.
public enum PartitionShape: String, Codable, Sendable, CaseIterable {
    /// The target alone on one side (with target `leader`: isolate the leader).
    case isolate
    /// A minority holding the target against the majority.
    case majority
    /// Each node sees a different majority (its neighbours on a ring); needs at least 4 nodes.
    case majoritiesRing = "majorities-ring"
    /// Two halves that cannot talk, joined by the target, which sees both.
    case bridge
    /// The target can send but receives nothing from the other nodes.
    case oneWay = "one-way"
}

/// What the link proxies do to the Raft traffic of a delay or loss fault.
public struct LinkFault: Codable, Sendable, Equatable {
    /// Added to each forwarded chunk, milliseconds.
    public var delayMs: Double = 0
    /// Uniform in ±jitter around the delay; a chunk never overtakes the one before it on its connection (TCP
    /// delivers in order, so reordering inside a stream would be corruption, not a network fault).
    public var jitterMs: Double = 0
    /// Percent chance, per forwarded chunk, that the connection is cut (both ends closed) and, per new
    /// connection, that it is refused: a stream never arrives with a hole, so lost data means a lost connection.
    public var lossPct: Double = 0

    public init(delayMs: Double = 0, jitterMs: Double = 0, lossPct: Double = 0) {
        self.delayMs = delayMs
        self.jitterMs = jitterMs
        self.lossPct = lossPct
    }

    enum CodingKeys: String, CodingKey { case delayMs = "delay_ms", jitterMs = "jitter_ms", lossPct = "loss_pct" }
}
