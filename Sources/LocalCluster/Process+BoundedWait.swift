import Foundation

extension Process {
    /// Waits until the process has exited, for at most `timeout`; true when it has. A zombie counts as exited:
    /// Foundation reaps its child only when a socket the child inherited closes, which a daemon the child
    /// started may hold forever (see `ChildProcess`), and `waitUntilExit` would then never return.
    public func waitForExit(timeout: Duration = .seconds(30)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var zombieSince: ContinuousClock.Instant?
        while isRunning {
            // Foundation reaps within milliseconds when nothing else holds its socket: given a second for it.
            if zombieSince == nil, Self.isZombie(processIdentifier) { zombieSince = .now }
            if let zombieSince, ContinuousClock.now - zombieSince > .seconds(1) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
        return true
    }

    /// Whether `pid` has exited and waits to be reaped (state Z in /proc), or is gone.
    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S ...": the state follows the last ')', as comm may hold spaces and parentheses.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first == "Z"
    }
}
