/// Latencies of one query type, kept whole (a run of minutes holds a few million samples at most) so the
/// percentiles are exact.
public struct LatencyStats: Sendable {
    public private(set) var nanoseconds: [UInt64] = []

    public init() {}

    public mutating func record(_ d: Duration) { nanoseconds.append(Self.nanoseconds(d)) }

    /// `d` in whole nanoseconds (negative durations count as 0).
    static func nanoseconds(_ d: Duration) -> UInt64 {
        let (s, atto) = d.components
        return UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, atto) / 1_000_000_000)
    }

    public mutating func merge(_ other: LatencyStats) { nanoseconds += other.nanoseconds }

    public var count: Int { nanoseconds.count }

    /// The `p`-th percentile (0...100) in milliseconds, nearest-rank; nil with no samples.
    public func percentile(_ p: Double) -> Double? {
        guard !nanoseconds.isEmpty else { return nil }
        let sorted = nanoseconds.sorted()
        return Self.rank(sorted, p)
    }

    /// p50, p90, p99 and max in milliseconds.
    public func summary() -> (p50: Double, p90: Double, p99: Double, max: Double)? {
        guard !nanoseconds.isEmpty else { return nil }
        let sorted = nanoseconds.sorted()
        return (Self.rank(sorted, 50), Self.rank(sorted, 90), Self.rank(sorted, 99), Double(sorted.last!) / 1e6)
    }

    private static func rank(_ sorted: [UInt64], _ p: Double) -> Double {
        let index = max(0, min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[index]) / 1e6
    }
}
