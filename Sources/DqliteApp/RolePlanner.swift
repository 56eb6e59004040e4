import DqliteWire

/// Which roles a cluster's members should hold, as go-dqlite's app and C dqlite 1.18 manage them: a target
/// number of voters (default 3) and stand-bys (default 3), the rest spares. A pure function of what the
/// leader knows (each member's role, whether it answered, its failure domain and weight), so the policy is
/// tested apart from the cluster that applies it.
///
/// The rules, in the order the changes should be applied (one configuration change at a time):
/// 1. Promotions to voter while fewer online voters than the target: first, so the number of voters never
///    drops below the target while a change is under way (a voter lost meanwhile leaves a quorum).
/// 2. Members that did not answer give up their role (to spare): a voter that stays unreachable is replaced.
/// 3. Excess voters (never the leader), then stand-bys, are demoted; missing stand-bys are promoted from
///    spares.
/// 4. A role held twice in one failure domain while an online candidate's domain has none is swapped over
///    (one swap per role and plan), so roles spread again after restarts.
/// Among candidates, a member is preferred for a role when its failure domain is less represented among that
/// role's holders, then when its weight is lower, then when it holds a role closer to it (a stand-by before a
/// spare), then by lower id (so that every leader decides alike). Demotion takes the least preferred.
public enum RolePlanner {
    public struct Member: Sendable, Equatable {
        public var id: UInt64
        public var role: NodeRole
        /// It answered the leader's poll (DESCRIBE) this round.
        public var online: Bool
        public var failureDomain: UInt64
        public var weight: UInt64

        public init(id: UInt64, role: NodeRole, online: Bool, failureDomain: UInt64 = 0, weight: UInt64 = 0) {
            self.id = id
            self.role = role
            self.online = online
            self.failureDomain = failureDomain
            self.weight = weight
        }
    }

    public struct Change: Sendable, Equatable, CustomStringConvertible {
        public var id: UInt64
        public var role: NodeRole
        public init(id: UInt64, role: NodeRole) {
            self.id = id
            self.role = role
        }
        public var description: String { "\(id)→\(role)" }
    }

    /// The changes that bring `members` to `voters` voters and `standBys` stand-bys, in the order to apply
    /// them; at most one per member (its final role). `leader` is never demoted.
    public static func plan(_ members: [Member], voters: Int = 3, standBys: Int = 3, leader: UInt64) -> [Change] {
        var roles = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.role) })
        var order: [UInt64] = []
        func assign(_ id: UInt64, _ role: NodeRole) {
            roles[id] = role
            if !order.contains(id) { order.append(id) }
        }
        func holders(_ role: NodeRole, online: Bool = true) -> [Member] {
            members.filter { roles[$0.id] == role && (!online || $0.online) }
        }
        /// Candidates ordered best first for `role`.
        func ranked(_ candidates: [Member], for role: NodeRole) -> [Member] {
            var domainCount: [UInt64: Int] = [:]
            for m in holders(role) { domainCount[m.failureDomain, default: 0] += 1 }
            return candidates.sorted { a, b in
                let (da, db) = (domainCount[a.failureDomain, default: 0], domainCount[b.failureDomain, default: 0])
                if da != db { return da < db }
                if a.weight != b.weight { return a.weight < b.weight }
                let (ra, rb) = (roles[a.id]!.rawValue, roles[b.id]!.rawValue)
                if ra != rb { return ra < rb }
                return a.id < b.id
            }
        }
        /// Promotes the best of `pool` to `role`, one at a time (the domain counts change with each), while
        /// `role` has fewer online holders than `target`.
        func fill(_ role: NodeRole, to target: Int, from pool: (Member) -> Bool) {
            while holders(role).count < target {
                guard let best = ranked(members.filter { $0.online && pool($0) }, for: role).first else { return }
                assign(best.id, role)
            }
        }
        /// Demotes the worst online holders of `role` (never the leader) to spare while above `target`.
        func trim(_ role: NodeRole, to target: Int) {
            while holders(role).count > target {
                guard let worst = ranked(holders(role).filter { $0.id != leader }, for: role).last else { return }
                assign(worst.id, .spare)
            }
        }

        /// When a failure domain holds `role` twice or more while an online candidate's domain holds it not
        /// at all, swaps them (the promotion first): once per plan, so the role spreads as far as the domains
        /// allow (after restarts, say) without a burst of changes.
        func spread(_ role: NodeRole, demotingTo lower: NodeRole, from pool: (Member) -> Bool) {
            var counts: [UInt64: Int] = [:]
            for m in holders(role) { counts[m.failureDomain, default: 0] += 1 }
            guard let crowded = counts.filter({ $0.value > 1 }).max(by: { ($0.value, $1.key) < ($1.value, $0.key) })?.key,
                  let best = ranked(members.filter { $0.online && pool($0) && counts[$0.failureDomain, default: 0] == 0 }, for: role).first,
                  let outgoing = ranked(holders(role).filter { $0.failureDomain == crowded && $0.id != leader }, for: role).last
            else { return }
            assign(best.id, role)
            assign(outgoing.id, lower)
        }

        fill(.voter, to: voters) { roles[$0.id] != .voter }
        for m in members where !m.online && roles[m.id] != .spare && m.id != leader { assign(m.id, .spare) }
        trim(.voter, to: voters)
        fill(.standBy, to: standBys) { roles[$0.id] == .spare }
        trim(.standBy, to: standBys)
        spread(.voter, demotingTo: .standBy) { roles[$0.id] != .voter }
        spread(.standBy, demotingTo: .spare) { roles[$0.id] == .spare }

        let before = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.role) })
        return order.compactMap { id in roles[id] == before[id] ? nil : Change(id: id, role: roles[id]!) }
    }
}
