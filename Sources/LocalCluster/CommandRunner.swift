import Foundation

/// Runs a program to completion with a deadline and captures its output (for tests of the command-line
/// tools and for the comparison scripts' helpers).
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum CommandRunner {
    /// The directory holding this build's products (next to the running test bundle or executable).
    public static var productsDirectory: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    /// Runs `executable` to its end or to `timeout` (then SIGKILL to its process group), reading its output
    /// as it goes. The child's exit is its own, not that of what it leaves behind (see `ChildProcess`).
    public static func run(_ executable: String, _ arguments: [String], stdin: String? = nil,
                           environment: [String: String]? = nil, timeout: Duration = .seconds(120)) async throws -> CommandResult {
        let child = try ChildProcess(executable, arguments, input: stdin, environment: environment)
        let deadline = ContinuousClock.now + timeout
        var killed = false
        while !child.poll() {
            if !killed && ContinuousClock.now > deadline { child.kill(); killed = true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return result(child)
    }

    /// `run` for callers outside Swift concurrency (set-up and tear-down paths, signal handlers): the same,
    /// polling with a short sleep on the calling thread.
    public static func runBlocking(_ executable: String, _ arguments: [String], stdin: String? = nil,
                                   environment: [String: String]? = nil, timeout: Duration = .seconds(120)) throws -> CommandResult {
        let child = try ChildProcess(executable, arguments, input: stdin, environment: environment)
        let deadline = ContinuousClock.now + timeout
        var killed = false
        while !child.poll() {
            if !killed && ContinuousClock.now > deadline { child.kill(); killed = true }
            usleep(2_000)
        }
        return result(child)
    }

    private static func result(_ child: ChildProcess) -> CommandResult {
        CommandResult(status: child.status ?? -1, stdout: String(decoding: child.stdout, as: UTF8.self),
                      stderr: String(decoding: child.stderr, as: UTF8.self))
    }
}
