import XCTest
import DqliteWire
@testable import DqliteApp

/// The role policy of the app: targets, failure domains, weights, offline members, and the order of changes.
final class RolePlannerTests: XCTestCase {
    private typealias M = RolePlanner.Member

    /// Roles after applying `changes` to `members`.
    private func apply(_ changes: [RolePlanner.Change], to members: [M]) -> [UInt64: NodeRole] {
        var roles = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.role) })
        for c in changes { roles[c.id] = c.role }
        return roles
    }

    private func count(_ roles: [UInt64: NodeRole], _ role: NodeRole) -> Int { roles.values.filter { $0 == role }.count }

    func testSevenNodesSettleAtThreeVotersThreeStandBysOneSpareSpreadOverDomains() {
        // Three failure domains; everybody joined as spare but the bootstrap node (1, voter, leader).
        let members: [M] = (1...7).map { (i: Int) -> M in
            M(id: UInt64(i), role: i == 1 ? NodeRole.voter : NodeRole.spare, online: true, failureDomain: UInt64((i - 1) % 3))
        }
        let changes = RolePlanner.plan(members, leader: 1)
        let roles = apply(changes, to: members)
        XCTAssertEqual(count(roles, .voter), 3)
        XCTAssertEqual(count(roles, .standBy), 3)
        XCTAssertEqual(count(roles, .spare), 1)
        let voterDomains = Set(members.filter { roles[$0.id] == NodeRole.voter }.map { $0.failureDomain })
        XCTAssertEqual(voterDomains, [0, 1, 2], "one voter per domain")
        let standByDomains = Set(members.filter { roles[$0.id] == NodeRole.standBy }.map { $0.failureDomain })
        XCTAssertEqual(standByDomains, [0, 1, 2], "one stand-by per domain")
        let settled: [M] = members.map { (m: M) -> M in
            var copy = m
            copy.role = roles[m.id]!
            return copy
        }
        XCTAssertEqual(RolePlanner.plan(settled, leader: 1), [], "settled: nothing more")
    }

    func testAnUnreachableVoterIsReplacedByAStandByPromotedFirst() {
        let members = [
            M(id: 1, role: .voter, online: true), M(id: 2, role: .voter, online: false), M(id: 3, role: .voter, online: true),
            M(id: 4, role: .standBy, online: true), M(id: 5, role: .spare, online: true),
        ]
        let changes = RolePlanner.plan(members, standBys: 1, leader: 1)
        XCTAssertEqual(changes.first, RolePlanner.Change(id: 4, role: .voter), "promotion before demotion")
        XCTAssertTrue(changes.contains(RolePlanner.Change(id: 2, role: .spare)))
        XCTAssertTrue(changes.contains(RolePlanner.Change(id: 5, role: .standBy)), "the spare takes the stand-by's place")
    }

    func testWeightBreaksTiesAndStandBysComeBeforeSpares() {
        let members = [
            M(id: 1, role: .voter, online: true), M(id: 2, role: .voter, online: true),
            M(id: 3, role: .spare, online: true, weight: 5), M(id: 4, role: .spare, online: true, weight: 1),
            M(id: 5, role: .standBy, online: true, weight: 1),
        ]
        XCTAssertEqual(RolePlanner.plan(members, standBys: 0, leader: 1).first, RolePlanner.Change(id: 5, role: .voter),
                       "same weight: the stand-by before the spare")
        let noStandBy = members.filter { $0.id != 5 }
        XCTAssertEqual(RolePlanner.plan(noStandBy, standBys: 0, leader: 1), [RolePlanner.Change(id: 4, role: .voter)], "lower weight first")
    }

    func testTheLeaderIsNeverDemotedAndExcessVotersGo() {
        let members: [M] = (1...5).map { (i: Int) -> M in M(id: UInt64(i), role: NodeRole.voter, online: true, weight: UInt64(10 - i)) }
        let changes = RolePlanner.plan(members, standBys: 1, leader: 1)
        let roles = apply(changes, to: members)
        XCTAssertEqual(count(roles, .voter), 3)
        XCTAssertEqual(roles[1], .voter, "the leader keeps its role even as the heaviest")
        XCTAssertEqual(count(roles, .standBy), 1)
        let offlineLeader = [M(id: 1, role: .voter, online: false), M(id: 2, role: .voter, online: true)]
        XCTAssertFalse(RolePlanner.plan(offlineLeader, leader: 1).contains { $0.id == 1 })
    }

    func testAMemberThatComesBackTakesTheRoleTheClusterNeeds() {
        // 2 lost its voter role while away; the cluster has three voters again and lacks a stand-by.
        let members = [
            M(id: 1, role: .voter, online: true), M(id: 2, role: .spare, online: true), M(id: 3, role: .voter, online: true),
            M(id: 4, role: .voter, online: true),
        ]
        XCTAssertEqual(RolePlanner.plan(members, standBys: 1, leader: 1), [RolePlanner.Change(id: 2, role: .standBy)])
        XCTAssertEqual(RolePlanner.plan(members, standBys: 0, leader: 1), [], "nothing needed: it stays spare")
    }

    /// After restarts, two stand-bys share a domain while a spare's domain has none: they are swapped (the
    /// promotion first), and the same for voters, once per plan; a spread cluster is left alone.
    func testRolesSpreadAgainOverDomainsAfterRestarts() {
        // As seen after a rolling restart: voters in d2, d3, d1; stand-bys 1 and 7 both in d1, 6 in d3; 2 (d2) spare.
        let members: [M] = [
            M(id: 1, role: .standBy, online: true, failureDomain: 1), M(id: 2, role: .spare, online: true, failureDomain: 2),
            M(id: 3, role: .voter, online: true, failureDomain: 3), M(id: 4, role: .voter, online: true, failureDomain: 1),
            M(id: 5, role: .voter, online: true, failureDomain: 2), M(id: 6, role: .standBy, online: true, failureDomain: 3),
            M(id: 7, role: .standBy, online: true, failureDomain: 1),
        ]
        XCTAssertEqual(RolePlanner.plan(members, leader: 5), [.init(id: 2, role: .standBy), .init(id: 7, role: .spare)])
        // Voters 3 and 6 share d3, none is in d2, where stand-bys 2 and 5 are: 2 (the lower id) is promoted,
        // then d3's voter that does not lead (3) steps down to stand-by.
        let voters: [M] = [
            M(id: 1, role: .voter, online: true, failureDomain: 1), M(id: 3, role: .voter, online: true, failureDomain: 3),
            M(id: 6, role: .voter, online: true, failureDomain: 3), M(id: 5, role: .standBy, online: true, failureDomain: 2),
            M(id: 2, role: .standBy, online: true, failureDomain: 2), M(id: 4, role: .standBy, online: true, failureDomain: 1),
        ]
        XCTAssertEqual(RolePlanner.plan(voters, leader: 6).prefix(2), [.init(id: 2, role: .voter), .init(id: 3, role: .standBy)])
    }
}
