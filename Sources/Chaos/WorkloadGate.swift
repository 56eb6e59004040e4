import Synchronization

/// What a `hold` phase of a timeline keeps the workload's clients from doing: their writes (they read
/// instead) or every operation. Holds may overlap; each counts until it ends.
public enum HoldKind: String, Codable, Sendable, CaseIterable {
    case writes, all
}

/// Shared by the nemesis, which holds and releases, and the workload's clients, which ask before each
/// operation. An explicit timeline uses it to build a fault's preconditions exactly (figure 8 needs a leader
/// that appends nothing, then reads and no writes), which random traffic would otherwise disturb.
final class WorkloadGate: Sendable {
    private let holds = Mutex<[HoldKind: Int]>([:])

    func hold(_ kind: HoldKind) { holds.withLock { $0[kind, default: 0] += 1 } }
    func release(_ kind: HoldKind) { holds.withLock { $0[kind] = max(0, ($0[kind] ?? 0) - 1) } }

    /// Clients read instead of writing.
    var writesHeld: Bool { holds.withLock { ($0[.writes] ?? 0) + ($0[.all] ?? 0) > 0 } }

    /// Waits while every operation is held (or until `deadline`).
    func waitWhileAllHeld(until deadline: ContinuousClock.Instant) async {
        while holds.withLock({ ($0[.all] ?? 0) > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
