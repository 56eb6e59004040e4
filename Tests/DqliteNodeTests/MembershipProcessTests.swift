import XCTest
import DqliteClient
import DqliteWire
import LocalCluster

/// Membership on a cluster of dqlite-node processes: a 4th and 5th node join, roles are assigned, one node is
/// removed, leadership is transferred; CLUSTER reflects each step, and the data follows.
final class MembershipProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    /// Waits (with a deadline) until the leader's CLUSTER answer satisfies `check`.
    private func waitForCluster(_ client: DqliteClient, _ what: String, _ check: ([NodeInfo]) -> Bool) async throws -> [NodeInfo] {
        let deadline = ContinuousClock.now + .seconds(30)
        var last: [NodeInfo] = []
        while ContinuousClock.now < deadline {
            if let members = try? await client.cluster() {
                last = members
                if check(members) { return members }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("\(what): cluster is \(last.map { "\($0.id)@\($0.address)=\($0.knownRole.map { "\($0)" } ?? "?")" })")
        return last
    }

    func testFiveNodesRolesRemovalAndTransferAreReflectedInCluster() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary))
        addTeardownBlock { await cluster.stop() }
        let client = try DqliteClient(addresses: cluster.addresses)
        let db = try await client.open("m")
        try await db.exec("CREATE TABLE t (n INTEGER)")
        try await db.exec("INSERT INTO t VALUES (1)")

        // A 4th and a 5th node join: three voters exist, so they become stand-bys.
        let fourth = try await cluster.addNode(), fifth = try await cluster.addNode()
        XCTAssertEqual([fourth, fifth], [3, 4])
        var members = try await waitForCluster(client, "five members") { m in
            m.count == 5 && m.filter { $0.knownRole == .voter }.count == 3 && m.filter { $0.knownRole == .standBy }.count == 2
        }
        XCTAssertEqual(Set(members.map(\.id)), [1, 2, 3, 4, 5])

        // Roles: node 5 becomes a spare, then a voter (four voters), then a stand-by again.
        for role in [NodeRole.spare, .voter, .standBy] {
            try await client.withLeader { c throws(DqliteError) in try await c.assign(id: 5, role: role) }
            members = try await waitForCluster(client, "node 5 \(role)") { $0.first { $0.id == 5 }?.knownRole == role }
        }

        // Remove node 4; the others keep serving and see it gone.
        try await client.withLeader { c throws(DqliteError) in try await c.remove(id: 4) }
        members = try await waitForCluster(client, "node 4 removed") { !$0.contains { $0.id == 4 } }
        XCTAssertEqual(members.count, 4)
        await cluster.kill(fourth)

        // Transfer leadership to another voter.
        let before = try await client.leaderAddress()
        let target = try XCTUnwrap(members.first { $0.knownRole == .voter && $0.address != before })
        try await client.withLeader { c throws(DqliteError) in try await c.transfer(to: target.id) }
        let deadline = ContinuousClock.now + .seconds(20)
        var after = before
        while ContinuousClock.now < deadline {
            after = (try? await client.leaderAddress()) ?? after
            if after == target.address { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(after, target.address, "leadership moved to node \(target.id)")

        // Writes go on through the new leader and reach the stand-by node 5.
        let again = try await client.open("m")
        try await again.exec("INSERT INTO t VALUES (2)")
        let deadline5 = ContinuousClock.now + .seconds(20)
        var files: [DumpFile] = []
        let fifthAddress = await cluster.allAddresses[fifth]
        while ContinuousClock.now < deadline5 {
            let node = try await NodeClient.connect(to: fifthAddress)
            files = (try? await node.dump(database: "m")) ?? []
            node.close()
            if files.contains(where: { !$0.content.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertFalse(files.isEmpty, "node 5 has the database")
    }
}
