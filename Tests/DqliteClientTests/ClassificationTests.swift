import XCTest
import DqliteClient
import DqliteWire

/// Error classes, retry decisions and address parsing: pure logic, no cluster.
final class ClassificationTests: XCTestCase {
    func testServerCodes() {
        let notLeader = DqliteError.server(code: ErrorCode.notLeader, message: "not leader")
        XCTAssertEqual(notLeader.kind, .notLeader)
        XCTAssertEqual(notLeader.outcome, .didNotHappen)
        XCTAssertTrue(notLeader.isRetryable)
        XCTAssertEqual(DqliteError.server(code: ErrorCode.legacyNotLeader, message: "").kind, .notLeader)

        let lost = DqliteError.server(code: ErrorCode.leadershipLost, message: "leadership lost")
        XCTAssertEqual(lost.kind, .leadershipLost)
        XCTAssertEqual(lost.outcome, .mayHaveHappened)
        XCTAssertEqual(DqliteError.server(code: ErrorCode.legacyLeadershipLost, message: "").outcome, .mayHaveHappened)

        let locked = DqliteError.server(code: 5, message: "database is locked")
        XCTAssertEqual(locked.kind, .busy)
        XCTAssertEqual(locked.outcome, .didNotHappen)
        XCTAssertFalse(locked.isRetryable)
        XCTAssertEqual(DqliteError.server(code: 5 | 2 << 8, message: "").kind, .busy, "extended BUSY codes")

        XCTAssertEqual(DqliteError.server(code: 12, message: "no database opened").kind, .notFound)
        XCTAssertTrue(DqliteError.server(code: 12, message: "").isRetryable)
        XCTAssertEqual(DqliteError.server(code: 19, message: "UNIQUE").kind, .sql)
        XCTAssertEqual(DqliteError.server(code: 10 | 3 << 8, message: "disk I/O").outcome, .mayHaveHappened)
    }

    func testConnectionErrorsDependOnWhetherTheRequestWasSent() {
        XCTAssertEqual(DqliteError.connectionLost(address: "a", requestSent: true, reason: "").outcome, .mayHaveHappened)
        XCTAssertEqual(DqliteError.connectionLost(address: "a", requestSent: false, reason: "").outcome, .didNotHappen)
        XCTAssertEqual(DqliteError.timeout(address: "a", requestSent: true).outcome, .mayHaveHappened)
        XCTAssertEqual(DqliteError.dialFailed(address: "a", reason: "").outcome, .didNotHappen)
        XCTAssertEqual(DqliteError.noLeader(addresses: ["a"], lastError: nil).outcome, .didNotHappen)
        XCTAssertEqual(DqliteError.noLeader(addresses: ["a", "b"], lastError: nil).description, "no leader reachable among a, b")
    }

    func testRetryPolicyNeverRetriesUnknownOutcomes() {
        let policy = RetryPolicy()
        let start = ContinuousClock.now
        XCTAssertTrue(policy.shouldRetry(.server(code: ErrorCode.notLeader, message: ""), attempt: 1, start: start))
        XCTAssertFalse(policy.shouldRetry(.server(code: ErrorCode.leadershipLost, message: ""), attempt: 1, start: start))
        XCTAssertFalse(policy.shouldRetry(.connectionLost(address: "a", requestSent: true, reason: ""), attempt: 1, start: start))
        XCTAssertFalse(policy.shouldRetry(.server(code: 5, message: ""), attempt: 1, start: start))
        var busy = RetryPolicy()
        busy.retryBusy = true
        XCTAssertTrue(busy.shouldRetry(.server(code: 5, message: ""), attempt: 1, start: start))
        XCTAssertFalse(RetryPolicy.none.shouldRetry(.server(code: ErrorCode.notLeader, message: ""), attempt: 1, start: start))
        XCTAssertEqual(policy.backoff(afterAttempt: 1), .milliseconds(100))
        XCTAssertEqual(policy.backoff(afterAttempt: 2), .milliseconds(200))
        XCTAssertEqual(policy.backoff(afterAttempt: 3), .milliseconds(250), "capped, so a failover is noticed soon")
        XCTAssertEqual(policy.backoff(afterAttempt: 30), .milliseconds(250))
    }

    func testAddresses() throws {
        XCTAssertEqual(try NodeAddress(parsing: "127.0.0.1:9001"), .tcp(host: "127.0.0.1", port: 9001))
        XCTAssertEqual(try NodeAddress(parsing: "localhost"), .tcp(host: "localhost", port: 8080))
        XCTAssertEqual(try NodeAddress(parsing: "[::1]:9001"), .tcp(host: "::1", port: 9001))
        XCTAssertEqual(try NodeAddress(parsing: "/run/dqlite.sock"), .unix(path: "/run/dqlite.sock"))
        XCTAssertEqual(try NodeAddress(parsing: "@dqlite"), .unix(path: "@dqlite"))
        for bad in ["", ":9001", "host:", "host:0", "host:70000", "::1:9001", "[::1", "[::1]x"] {
            XCTAssertThrowsError(try NodeAddress(parsing: bad), bad)
        }
        XCTAssertThrowsError(try DqliteClient(addresses: []))
    }

    func testDialingNothingFailsFastAndClearly() async throws {
        var config = ClientConfig()
        config.dialTimeout = .milliseconds(500)
        config.leaderTimeout = .milliseconds(300)
        let client = try DqliteClient(addresses: ["127.0.0.1:1"], config: config)
        do {
            _ = try await client.leaderAddress()
            XCTFail("no server listens on port 1")
        } catch {
            XCTAssertEqual(error.kind, .noLeader)
            XCTAssertTrue(error.description.hasPrefix("no leader reachable among 127.0.0.1:1"), error.description)
        }
    }
}
