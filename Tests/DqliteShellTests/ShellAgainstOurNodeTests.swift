import XCTest
import LocalCluster

/// Every dot command of the `dqlite` shell against our own node (a 3-node dqlite-node cluster), and the
/// interactive shell in a real terminal (tmux): line editing and history.
final class ShellAgainstOurNodeTests: XCTestCase {
    private var shell: String { CommandRunner.productsDirectory + "/dqlite" }
    private var node: String { CommandRunner.productsDirectory + "/dqlite-node" }

    private func dqlite(_ servers: [String], _ args: [String], stdin: String? = nil) async throws -> CommandResult {
        try await CommandRunner.run(shell, ["-s", servers.joined(separator: ",")] + args, stdin: stdin, timeout: .seconds(60))
    }

    func testEveryDotCommand() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: node))
        addTeardownBlock { await cluster.stop() }
        let s = cluster.addresses
        let dumpDir = NSTemporaryDirectory() + "shell-dump-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dumpDir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dumpDir) }

        var r = try await dqlite(s, ["demo"], stdin: """
            CREATE TABLE b (x INTEGER);
            CREATE TABLE a (y TEXT);
            CREATE INDEX a_y ON a (y);
            CREATE VIEW v AS SELECT x FROM b;
            .tables
            .schema a
            .timer on
            INSERT INTO b VALUES (1);
            SELECT x FROM b;
            .timer off
            SELECT x FROM b;

            """)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(3)), ["a", "b", "v"], r.stdout)
        XCTAssertEqual(Array(lines[3...4]), ["CREATE TABLE a (y TEXT);", "CREATE INDEX a_y ON a (y);"], r.stdout)
        XCTAssertTrue(lines[5].hasPrefix("Run Time: real "), r.stdout)
        XCTAssertEqual(lines[6], "1")
        XCTAssertTrue(lines[7].hasPrefix("Run Time: real "), r.stdout)
        XCTAssertEqual(Array(lines[8...]), ["1"], "no timer once off")

        r = try await dqlite(s, ["demo", ".schema"])
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 4, r.stdout)
        r = try await dqlite(s, ["demo", ".help"])
        XCTAssertTrue(r.stdout.contains(".tables") && r.stdout.contains(".timer on|off"), r.stdout)
        let leader = try await dqlite(s, ["demo", ".leader"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(s.contains(leader), leader)
        r = try await dqlite(s, ["demo", ".cluster"])
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3, r.stdout)
        r = try await dqlite(s, ["demo", ".describe", s[1]])
        XCTAssertEqual(r.stdout, "\(s[1])|0|0\n")
        r = try await dqlite(s, ["demo", ".weight", s[1], "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try await dqlite(s, ["demo", ".describe", s[1]])
        XCTAssertEqual(r.stdout, "\(s[1])|0|7\n")
        r = try await CommandRunner.run("/bin/sh", ["-c", "cd \(dumpDir) && \(shell) -s \(s.joined(separator: ",")) demo '.dump \(leader)'"], timeout: .seconds(60))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dumpDir + "/demo"), r.stdout)
        r = try await dqlite(s, ["demo", ".remove", s[2]])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try await dqlite(s, ["demo", ".cluster"])
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2, r.stdout)
        r = try await dqlite(s, ["demo", ".timer maybe"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("unknown or malformed command"), r.stderr)
    }

    /// The interactive shell in tmux: a line typed, recalled with the up arrow, edited (Ctrl-A, then the
    /// word changed) and run again; the history file holds the lines afterwards.
    func testLineEditingAndHistoryInATerminal() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "needs tmux")
        let cluster = try await ProcessCluster.start(nodes: 1, kind: .swiftNode(executable: node))
        addTeardownBlock { await cluster.stop() }
        let session = "dqlite-shell-\(UUID().uuidString.prefix(8))"
        let history = NSTemporaryDirectory() + "\(session).history"
        addTeardownBlock {
            _ = try? await CommandRunner.run("/usr/bin/tmux", ["kill-session", "-t", session], timeout: .seconds(10))
            try? FileManager.default.removeItem(atPath: history)
        }
        func tmux(_ args: [String]) async throws -> String {
            try await CommandRunner.run("/usr/bin/tmux", args, timeout: .seconds(10)).stdout
        }
        func screen() async throws -> String { try await tmux(["capture-pane", "-p", "-t", session]) }
        func waitFor(_ text: String, count: Int = 1) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while try await screen().components(separatedBy: text).count - 1 < count {
                guard ContinuousClock.now < deadline else { return XCTFail("'\(text)' x\(count) never showed:\n\(try await screen())") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        func start() async throws {
            // Through sh with its output to /dev/null: the tmux server it starts would otherwise keep the
            // runner's pipes open, and the runner would wait for them forever.
            let command = "env DQLITE_HISTORY=\(history) \(shell) -s \(cluster.addresses[0]) demo"
            _ = try await CommandRunner.run("/bin/sh", ["-c", "/usr/bin/tmux new-session -d -s \(session) -x 120 -y 30 '\(command)' </dev/null >/dev/null 2>&1"],
                                            timeout: .seconds(10))
            try await waitFor("dqlite>")
        }
        try await start()
        _ = try await tmux(["send-keys", "-t", session, "SELECT 40 + 2 AS answer", "Enter"])
        try await waitFor("42")
        // Up arrow: the line again, its last word rubbed out and typed anew.
        _ = try await tmux(["send-keys", "-t", session, "Up", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "answr", "Enter"])
        try await waitFor("42", count: 2)
        // Up again, Ctrl-A to the start, Ctrl-K to cut the rest, a new statement.
        _ = try await tmux(["send-keys", "-t", session, "Up", "C-a", "C-k", "SELECT 'edited'", "Enter"])
        try await waitFor("edited", count: 2)  // the line as typed, then its row
        // Ctrl-D leaves; a new shell finds the last line with the up arrow (the history file).
        _ = try await tmux(["send-keys", "-t", session, "C-d"])
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? await CommandRunner.run("/usr/bin/tmux", ["has-session", "-t", session], timeout: .seconds(10)).status) == 0 {
            guard ContinuousClock.now < deadline else { return XCTFail("the shell did not leave on Ctrl-D:\n\(try await screen())") }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await start()
        _ = try await tmux(["send-keys", "-t", session, "Up"])
        try await waitFor("dqlite> SELECT 'edited'")
    }
}
