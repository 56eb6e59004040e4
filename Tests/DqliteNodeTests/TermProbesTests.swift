import XCTest
import DqliteClient
import DqliteWire
import LocalCluster
@testable import DqliteNode

/// The term probes behind linearizable reads, against real node processes: a node answers HEARTBEAT with
/// its Raft term, and a round confirms a term only when enough voters report that term or an older one.
final class TermProbesTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testVotersReportTheirTermAndARoundConfirmsOnlyACurrentOne() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary))
        addTeardownBlock { await cluster.stop() }
        let node = try await NodeClient.connect(to: cluster.addresses[1])
        defer { node.close() }
        guard case .welcome(let term) = try await node.connection.call(.heartbeat(timestamp: 0), timeout: .seconds(5)) else {
            return XCTFail("HEARTBEAT is answered with WELCOME carrying the term")
        }
        XCTAssertGreaterThanOrEqual(term, 1)

        let probes = TermProbes(timeout: .seconds(2))
        defer { probes.close() }
        let peers = Array(cluster.addresses.dropFirst())
        let current = await probes.confirm(term: term, peers: peers, needed: 1, slot: 0)
        XCTAssertTrue(current, "voters in this term confirm it")
        let older = await probes.confirm(term: term - 1, peers: peers, needed: 1, slot: 1)
        XCTAssertFalse(older, "a leader of an older term is not confirmed: the voters have moved on")
        let unreachable = await probes.confirm(term: term, peers: ["127.0.0.1:1"], needed: 1, slot: 0)
        XCTAssertFalse(unreachable)
        let none = await probes.confirm(term: term, peers: [], needed: 0, slot: 0)
        XCTAssertTrue(none, "a single voter needs no one else")
    }
}
