import XCTest
import Foundation
import DqliteClient
import LocalCluster

/// How soon a 3-node cluster of `dqlite-node` processes has a new leader after SIGKILL of its leader, with an
/// election timeout of 2 s (C-Raft's timers alone: at least ~1.9 s after the last heartbeat).
final class FailoverProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    private func startCluster(_ extra: [String]) async throws -> ProcessCluster {
        let arguments = ["--election-timeout", "2000", "--heartbeat-timeout", "100", "--log-level", "debug"] + extra
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary, arguments: arguments))
        addTeardownBlock { await cluster.stop() }
        return cluster
    }

    /// Kills the leader once both followers watch it (`LeaderWatch`; not waited for when `watched` is
    /// false), after `beforeKill`, and returns how long until a survivor names a new leader.
    private func failover(_ cluster: ProcessCluster, watched: Bool,
                          beforeKill: (String) async throws -> Void = { _ in }) async throws -> Duration {
        let leader = try await cluster.leaderIndex()
        let addresses = await cluster.addresses
        let leaderAddress = addresses[leader]
        let survivors = (0..<3).filter { $0 != leader }
        if watched {
            let deadline = ContinuousClock.now + .seconds(30)
            var watching = 0
            while watching < survivors.count {
                watching = 0
                for s in survivors where await cluster.log(s).contains("watching leader \(leader + 1) at \(leaderAddress)") { watching += 1 }
                guard ContinuousClock.now < deadline else {
                    XCTFail("the followers never watched the leader")
                    return .zero
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await beforeKill(leaderAddress)
        let killedAt = ContinuousClock.now
        await cluster.kill(leader)
        let deadline = killedAt + .seconds(30)
        while ContinuousClock.now < deadline {
            for s in survivors {
                let address = addresses[s]
                guard let node = try? await DqliteClient(addresses: [address]).node(address) else { continue }
                let named = try? await node.leader()
                node.close()
                if let named, named.address != leaderAddress, !named.address.isEmpty { return ContinuousClock.now - killedAt }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("no new leader within 30 s")
        return .seconds(30)
    }

    /// The followers hear at once that the leader's host refuses connections: a new leader well within one
    /// election timeout, where C-Raft's timers alone take 1-2 of them.
    func testALeaderWhoseProcessDiedIsReplacedWithinAFractionOfTheElectionTimeout() async throws {
        let cluster = try await startCluster([])
        let took = try await failover(cluster, watched: true)
        print("new leader \(took) after SIGKILL of the leader (election timeout 2 s, fast failover)")
        XCTAssertLessThan(took, .seconds(1))
    }

    /// The same with `--no-fast-failover`: the election timeout passes first, as in C dqlite.
    func testWithoutFastFailoverTheElectionTimeoutPassesFirst() async throws {
        let cluster = try await startCluster(["--no-fast-failover"])
        let took = try await failover(cluster, watched: false)
        print("new leader \(took) after SIGKILL of the leader (election timeout 2 s, no fast failover)")
        XCTAssertGreaterThan(took, .milliseconds(1500))
    }

    /// A follower that promised the leader, for its read lease, to refuse votes for a while (half an election
    /// timeout, 1 s here) keeps that promise even though it learns at once that the leader died: no leader
    /// before then.
    func testAReadLeasePromiseIsKeptWhenTheLeaderDies() async throws {
        let cluster = try await startCluster([])
        let took = try await failover(cluster, watched: true) { leader in
            let db = try await DqliteClient(addresses: [leader]).open("demo")
            // Linearizable reads: the first one in a term waits for a barrier, the next ones for term probes,
            // whose answers promise 1 s of refusals.
            for _ in 0..<3 { _ = try await db.queryAll("SELECT 1") }
            await db.close()
        }
        print("new leader \(took) after SIGKILL of a leader with a read lease (election timeout 2 s, fast failover)")
        XCTAssertGreaterThan(took, .milliseconds(800))
        XCTAssertLessThan(took, .milliseconds(1900), "no longer than the promise (and a step for the election)")
    }
}
