import XCTest
import Foundation
import DqliteClient
import DqliteWire
import LocalCluster

/// Read leases against real node processes: a leader whose voters promised to refuse votes serves reads
/// without asking them again, and stops once the promises may have run out.
final class ReadLeaseProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testALeaseServesReadsWithoutTheVotersAndEndsBeforeAnotherLeaderCouldBeElected() async throws {
        // Election timeout 1000 ms (ProcessCluster's): a follower's promise is below 2 s.
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary))
        let indices = Array(cluster.addresses.indices)
        addTeardownBlock {
            for i in indices { await cluster.signal(i, SIGCONT) }
            await cluster.stop()
        }
        // Leases are not granted while the configuration changes: wait for the three voters to settle.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await DqliteClient(addresses: cluster.addresses).cluster().filter({ $0.knownRole == .voter }).count < 3 {
            guard ContinuousClock.now < deadline else { return XCTFail("no three voters") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let leader = try await cluster.leaderIndex()
        let followers = indices.filter { $0 != leader }
        var config = ClientConfig()
        config.requestTimeout = .seconds(10)
        config.leaderTimeout = .seconds(2)
        config.retry.deadline = .seconds(2)
        let db = try await DqliteClient(addresses: [cluster.addresses[leader]], config: config).open("demo")
        try await db.exec("CREATE TABLE t (n INTEGER)")
        try await db.exec("INSERT INTO t VALUES (1)")
        // Rounds of probes for a second and a half: the voters' promises, and their clocks measured against
        // the leader's over a second or more (ClockAgreement), which a lease needs.
        let reading = ContinuousClock.now + .milliseconds(1500)
        while ContinuousClock.now < reading {
            _ = try await db.queryAll("SELECT count(*) FROM t")
            try await Task.sleep(for: .milliseconds(50))
        }

        for f in followers { await cluster.signal(f, SIGSTOP) }
        let t0 = ContinuousClock.now
        let rows: [[Value]]
        do { rows = try await db.queryAll("SELECT count(*) FROM t").rows } catch {
            return XCTFail("a read under the lease failed after \(ContinuousClock.now - t0): \(error)\n\(await cluster.recentLog(leader))")
        }
        let took = ContinuousClock.now - t0
        XCTAssertEqual(rows, [[.integer(1)]])
        XCTAssertLessThan(took, .milliseconds(500), "served under the lease, without waiting for the paused voters")

        // Past any promise (2 s): the leader must ask again, gets no answer, and answers no read.
        try await Task.sleep(for: .milliseconds(2100))
        do {
            let late = try await db.queryAll("SELECT count(*) FROM t").rows
            XCTFail("a leader cut off from its voters for longer than any lease answered a read: \(late)")
        } catch {
            XCTAssertTrue([.leadershipLost, .notLeader, .noLeader, .timeout, .connection].contains(error.kind), "\(error)")
        }
        for f in followers { await cluster.signal(f, SIGCONT) }
    }
}
