/// How a run failed, for deciding whether a smaller run still fails "the same way": the history's anomaly
/// classes when it had any (G-single-realtime and G-single-process are one class, G-single), else the names
/// of the counted checks that failed (durability, convergence, liveness, crashes).
public struct FailureClass: Sendable, Equatable, CustomStringConvertible {
    public var anomalies: Set<String>
    public var checks: Set<String>

    public init(_ record: RunRecord) {
        anomalies = Set(record.anomalies.map(Self.base))
        let counted = Set(record.scenarioSpec?.checks.map(\.rawValue) ?? Scenario.Check.allCases.map(\.rawValue))
        checks = Set(record.checks.filter { !$0.passed && $0.skipped != true && counted.contains($0.name) }.map(\.name))
    }

    /// Whether the run failed at all.
    public var failed: Bool { !checks.isEmpty }

    /// Whether `other` fails with a class this one has: an anomaly class in common, or, when this one has no
    /// anomaly, a failed check in common.
    public func matches(_ other: FailureClass) -> Bool {
        guard other.failed else { return false }
        if !anomalies.isEmpty { return !anomalies.isDisjoint(with: other.anomalies) }
        return !checks.isDisjoint(with: other.checks)
    }

    /// `G-single-realtime` → `G-single`: the variants name which edges closed the cycle, not another bug.
    static func base(_ anomaly: String) -> String {
        for suffix in ["-realtime", "-process"] where anomaly.hasSuffix(suffix) { return String(anomaly.dropLast(suffix.count)) }
        return anomaly
    }

    public var description: String {
        anomalies.isEmpty ? "failed checks \(checks.sorted().joined(separator: ", "))" : "anomalies \(anomalies.sorted().joined(separator: ", "))"
    }
}
