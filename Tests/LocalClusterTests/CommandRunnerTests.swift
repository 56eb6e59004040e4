import Foundation
import LocalCluster
import XCTest

/// Programs run to completion: their own exit counts, not that of what they leave behind; deadlines hold;
/// input and output pass through.
final class CommandRunnerTests: XCTestCase {
    /// A shell that starts a daemon and exits (as `tmux new-session` does) is done when it exits. Foundation's
    /// Process waited here for the daemon, forever when it lived on.
    func testAChildThatLeavesADaemonBehindIsDoneWhenItExits() async throws {
        let start = ContinuousClock.now
        let r = try await CommandRunner.run("/bin/sh", ["-c", "sleep 30 </dev/null >/dev/null 2>&1 & echo $!"], timeout: .seconds(20))
        let took = ContinuousClock.now - start
        let daemon = try XCTUnwrap(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(daemon, SIGKILL) }
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(kill(daemon, 0), 0, "the daemon should still run")
        XCTAssertLessThan(took, .seconds(5), "waited for the daemon")
    }

    /// A daemon that keeps the output pipe open delays the result by the 2 s grace, not its lifetime.
    func testOutputHeldOpenByADescendantIsWaitedForBriefly() throws {
        let start = ContinuousClock.now
        let r = try CommandRunner.runBlocking("/bin/sh", ["-c", "echo before; sleep 30 & echo $! >&2"], timeout: .seconds(20))
        if let daemon = Int32(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(daemon, SIGKILL) }
        XCTAssertEqual(r.stdout, "before\n")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(6))
    }

    func testADeadlineKillsTheChildAndWhatItStarted() async throws {
        let start = ContinuousClock.now
        let r = try await CommandRunner.run("/bin/sh", ["-c", "sleep 30; echo never"], timeout: .milliseconds(300))
        XCTAssertEqual(r.status, SIGKILL)
        XCTAssertEqual(r.stdout, "")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "the sleep kept the pipe open: not killed with its shell")
    }

    func testInputOutputErrorsAndExitCodesPassThrough() async throws {
        let big = String(repeating: "0123456789abcdef", count: 40_000)  // 640 KB: more than a pipe holds
        let r = try await CommandRunner.run("/bin/sh", ["-c", "cat; echo oops >&2; exit 3"], stdin: big)
        XCTAssertEqual(r.stdout, big)
        XCTAssertEqual(r.stderr, "oops\n")
        XCTAssertEqual(r.status, 3)
        let env = try CommandRunner.runBlocking("/usr/bin/env", [], environment: ["ONLY": "this"])
        XCTAssertEqual(env.stdout, "ONLY=this\n")
        XCTAssertThrowsError(try CommandRunner.runBlocking("/nonexistent/program", []))
    }
}
