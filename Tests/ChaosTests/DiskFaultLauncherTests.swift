import XCTest
import LocalCluster

/// The seccomp launcher (dqlite-disk-faults) against a shell: writes and syncs under the scope fail with the
/// control file's error, writes elsewhere never do, and switching it off lets them through again.
final class DiskFaultLauncherTests: XCTestCase {
    private var launcher: String { CommandRunner.productsDirectory + "/dqlite-disk-faults" }

    func testWritesUnderTheScopeFailWithTheChosenErrorAndOthersDoNot() async throws {
        let root = NSTemporaryDirectory() + "disk-faults-\(UUID().uuidString)"
        let scope = root + "/data", elsewhere = root + "/other", control = root + "/control"
        try FileManager.default.createDirectory(atPath: scope, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }

        // The shell writes in both places and reports each outcome; its own output (a pipe) is never faulted.
        let script = "echo a | cat > \(scope)/f && echo scope-ok || echo scope-failed; echo b > \(elsewhere)/f && echo other-ok || echo other-failed"
        func run() async throws -> CommandResult {
            try await CommandRunner.run(launcher, ["--control", control, "--scope", scope, "--", "/bin/sh", "-c", script], timeout: .seconds(20))
        }

        try "eio\n".write(toFile: control, atomically: true, encoding: .utf8)
        var r = try await run()
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["scope-failed", "other-ok"], r.stderr)
        XCTAssertTrue(r.stderr.contains("Input/output error"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: control + ".injected", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "1")

        try "enospc\n".write(toFile: control, atomically: true, encoding: .utf8)
        r = try await run()
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["scope-failed", "other-ok"], r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)

        try "off\n".write(toFile: control, atomically: true, encoding: .utf8)
        r = try await run()
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["scope-ok", "other-ok"], r.stderr)
        XCTAssertEqual(try String(contentsOfFile: scope + "/f", encoding: .utf8), "a\n")
    }

    func testBadUsageIsRefusedWithoutRunningAnything() async throws {
        let r = try await CommandRunner.run(launcher, ["--", "/bin/true"], timeout: .seconds(10))
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("usage"), r.stderr)
    }
}
