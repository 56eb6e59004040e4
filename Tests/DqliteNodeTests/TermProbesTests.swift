import XCTest
import DqliteClient
import DqliteWire
import LocalCluster
@testable import DqliteNode

/// The term probes behind linearizable reads, against real node processes: a node answers HEARTBEAT with
/// its Raft term and how long it will still refuse votes, and a round confirms a term only when enough
/// voters report that term or an older one.
final class TermProbesTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testVotersReportTheirTermAndARoundConfirmsOnlyACurrentOne() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary))
        addTeardownBlock { await cluster.stop() }
        let leaderIndex = try await cluster.leaderIndex()
        let followers = cluster.addresses.indices.filter { $0 != leaderIndex }.map { cluster.addresses[$0] }
        let node = try await NodeClient.connect(to: followers[0])
        defer { node.close() }
        guard case .metadata(let term, let sticky) = try await node.connection.call(.heartbeat(timestamp: 0), timeout: .seconds(5)) else {
            return XCTFail("HEARTBEAT is answered with METADATA carrying the term and the vote-refusal time")
        }
        XCTAssertGreaterThanOrEqual(term, 1)
        // A follower of a live leader refuses votes until its randomized election timeout (1000-2000 ms in
        // these clusters) runs out without a heartbeat (one every 100 ms), and promises half an election
        // timeout of that at most (ReadLease.promiseMs).
        XCTAssertTrue((400...500).contains(sticky), "\(sticky) ms")

        let probes = TermProbes(timeout: .seconds(2))
        defer { probes.close() }
        let peers = followers
        let current = await probes.confirm(term: term, peers: peers, needed: 1, slot: 0)
        XCTAssertTrue(current.confirmed, "voters in this term confirm it")
        XCTAssertTrue((400...500).contains(current.leaseMs), "a majority's promise: \(current.leaseMs) ms")
        let older = await probes.confirm(term: term - 1, peers: peers, needed: 1, slot: 1)
        XCTAssertFalse(older.confirmed, "a leader of an older term is not confirmed: the voters have moved on")
        XCTAssertEqual(older.leaseMs, 0)
        let unreachable = await probes.confirm(term: term, peers: ["127.0.0.1:1"], needed: 1, slot: 0)
        XCTAssertFalse(unreachable.confirmed)
        let none = await probes.confirm(term: term, peers: [], needed: 0, slot: 0)
        XCTAssertTrue(none.confirmed, "a single voter needs no one else")

        // The leader itself follows no one: it promises nothing.
        let leader = try await NodeClient.connect(to: cluster.addresses[leaderIndex])
        defer { leader.close() }
        guard case .metadata(_, let leaderSticky) = try await leader.connection.call(.heartbeat(timestamp: 0), timeout: .seconds(5)) else {
            return XCTFail("the leader answers too")
        }
        XCTAssertEqual(leaderSticky, 0)
    }
}
