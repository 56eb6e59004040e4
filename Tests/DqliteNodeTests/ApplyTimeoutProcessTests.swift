import XCTest
import Foundation
import DqliteClient
import LocalCluster

/// The apply timeout (`--apply-timeout`): with both followers paused, a write on the leader fails within the
/// timeout (plus a margin) with "commit timed out", an error whose outcome is unknown, long before the
/// leader steps down or the client gives up; once the followers resume, the cluster serves again.
final class ApplyTimeoutProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testAWriteWithoutAQuorumFailsWithinTheApplyTimeoutOutcomeUnknown() async throws {
        // 300 ms: well inside the 1 s election timeout after which the leader would step down (leadership lost).
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary, arguments: ["--apply-timeout", "300"]))
        addTeardownBlock { await cluster.stop() }
        let leader = try await cluster.leaderIndex()
        let client = try DqliteClient(addresses: [cluster.addresses[leader]])
        let db = try await client.open("timeouts")
        try await db.exec("CREATE TABLE t (x INTEGER)")
        try await db.exec("INSERT INTO t VALUES (1)")

        let followers = (0..<3).filter { $0 != leader }
        for f in followers { await cluster.signal(f, SIGSTOP) }
        addTeardownBlock { for f in followers { await cluster.signal(f, SIGCONT) } }
        let started = ContinuousClock.now
        do {
            try await db.exec("INSERT INTO t VALUES (2)")
            XCTFail("a write without a quorum succeeded")
        } catch {
            let took = ContinuousClock.now - started
            XCTAssertTrue(error.description.contains("commit timed out"), error.description)
            XCTAssertEqual(error.outcome, .mayHaveHappened, "the entry may still commit")
            XCTAssertLessThan(took, .milliseconds(300 + 500), "answered at the apply timeout, not at a step-down")
            XCTAssertGreaterThanOrEqual(took, .milliseconds(250))
        }
        for f in followers { await cluster.signal(f, SIGCONT) }

        // The cluster serves again, and every node agrees on whether the timed-out write happened.
        let all = try DqliteClient(addresses: cluster.addresses)
        let deadline = ContinuousClock.now + .seconds(30)
        var count: Int64?
        while count == nil, ContinuousClock.now < deadline {
            if let c = try? await all.open("timeouts"), let rows = try? await c.queryAll("SELECT count(*) FROM t").rows,
               case .integer(let n)? = rows.first?.first {
                count = n
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        XCTAssertNotNil(count, "the cluster did not serve again")
        XCTAssertTrue(count == 1 || count == 2, "\(String(describing: count))")
    }
}
