import Foundation
import LocalCluster

/// Runs the system tools the network faults are made of (`ip`, `iptables-restore`). Synchronous for set-up and
/// tear-down (the Ctrl-C handler runs outside Swift concurrency); `async` for faults applied during a run, so a
/// tool's start-up does not hold one of the two cooperative threads the workload runs on.
enum Shell {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let stderr: String
        var description: String { "`\(command)` failed (\(status)): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))" }
    }

    /// The tool's full path, from PATH or the sbin directories root's tools live in.
    static func path(_ tool: String) -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return dirs.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? tool
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let r = try CommandRunner.runBlocking(path(tool), arguments, stdin: input, timeout: .seconds(20))
        guard r.status == 0 else {
            throw Failure(command: ([tool] + arguments).joined(separator: " "), status: r.status, stderr: r.stderr)
        }
        return r.stdout
    }

    @discardableResult
    static func runAsync(_ tool: String, _ arguments: [String], input: String? = nil) async throws -> String {
        let r = try await CommandRunner.run(path(tool), arguments, stdin: input, timeout: .seconds(20))
        guard r.status == 0 else {
            throw Failure(command: ([tool] + arguments).joined(separator: " "), status: r.status, stderr: r.stderr)
        }
        return r.stdout
    }
}
