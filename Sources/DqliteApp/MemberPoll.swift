import DqliteClient
import DqliteWire

/// The leader's view of its members for the role policy: who answers, and their failure domains and weights
/// (DESCRIBE), with when each last answered, so a member counts as unreachable only after a while.
final class MemberPoll {
    private var lastAnswer: [UInt64: ContinuousClock.Instant] = [:]
    private var described: [UInt64: (failureDomain: UInt64, weight: UInt64)] = [:]
    private let unreachableAfter: Duration
    /// Whether a member not heard from yet counts as online until `unreachableAfter` has passed (the role
    /// loop: a node just started) or only once it answers (a handover choosing replacements).
    private let graceForNewcomers: Bool

    private let tls: TLSContext?

    init(unreachableAfter: Duration, graceForNewcomers: Bool = true, tls: TLSContext? = nil) {
        self.tls = tls
        self.unreachableAfter = unreachableAfter
        self.graceForNewcomers = graceForNewcomers
    }

    /// Asks every member but `me` to DESCRIBE itself (in parallel, each bounded by `timeout`) and returns
    /// them as the planner sees them. A member never heard of before gets the full grace from now.
    func poll(_ members: [NodeInfo], me: UInt64, myDomain: UInt64, myWeight: UInt64,
              timeout: Duration = .milliseconds(500)) async -> [RolePlanner.Member] {
        let config = Self.probeConfig(timeout, tls: tls)
        let others = members.filter { $0.id != me }
        let answers = await withTaskGroup(of: (UInt64, (UInt64, UInt64)?).self) { group in
            for m in others {
                group.addTask {
                    do {
                        let c = try await NodeClient.connect(to: m.address, config: config)
                        defer { c.close() }
                        let d = try await c.describe()
                        return (m.id, (d.failureDomain, d.weight))
                    } catch {
                        return (m.id, nil)
                    }
                }
            }
            var all: [UInt64: (UInt64, UInt64)?] = [:]
            for await (id, answer) in group { all[id] = answer }
            return all
        }
        let now = ContinuousClock.now
        if graceForNewcomers { for m in others where lastAnswer[m.id] == nil { lastAnswer[m.id] = now } }
        for (id, answer) in answers {
            if let (domain, weight) = answer {
                lastAnswer[id] = now
                described[id] = (domain, weight)
            }
        }
        let ids = Set(members.map(\.id))
        lastAnswer = lastAnswer.filter { ids.contains($0.key) }
        described = described.filter { ids.contains($0.key) }
        return members.map { m in
            if m.id == me {
                return RolePlanner.Member(id: me, role: m.knownRole ?? .spare, online: true, failureDomain: myDomain, weight: myWeight)
            }
            // A member never heard from keeps its role through the grace, but is no candidate for one.
            let d = described[m.id]
            let seen = lastAnswer[m.id].map { now - $0 <= unreachableAfter } ?? false
            let online = seen && (d != nil || m.knownRole != .spare)
            return RolePlanner.Member(id: m.id, role: m.knownRole ?? .spare, online: online,
                                      failureDomain: d?.failureDomain ?? 0, weight: d?.weight ?? 0)
        }
    }

    private static func probeConfig(_ timeout: Duration, tls: TLSContext?) -> ClientConfig {
        var config = ClientConfig()
        config.tls = tls
        config.dialTimeout = timeout
        config.requestTimeout = timeout
        return config
    }
}
