import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The pids of a campaign's running runs, so an interrupted campaign can stop them properly: each run cleans
/// up its own nodes, namespaces and bridge on SIGTERM, but only if it gets one (a job scheduler's SIGTERM
/// reaches the campaign alone, not its process group).
final class ChildProcesses: Sendable {
    private struct State {
        var pids: Set<Int32> = []
        var stopping = false
    }
    private let state = Mutex(State())

    /// Once the campaign is interrupted no run starts, and the rows of runs it killed are not results.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// A run started. If the campaign is already stopping (it raced the signal), it is stopped at once.
    func add(_ pid: Int32) {
        let stopping = state.withLock { s in
            s.pids.insert(pid)
            return s.stopping
        }
        if stopping { kill(pid, SIGTERM) }
    }

    func remove(_ pid: Int32) { _ = state.withLock { $0.pids.remove(pid) } }

    /// SIGTERM to every run, then wait (up to 30 s) until each has exited, so their clean-up is done before
    /// the campaign exits. Runs on InterruptCleanup's thread, not in the concurrency pool.
    func terminateAll() {
        let first = state.withLock { s in
            s.stopping = true
            return s.pids
        }
        for pid in first { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && state.withLock({ $0.pids }).contains(where: Self.alive) { usleep(50_000) }
    }

    /// Running (not yet exited; a zombie has finished its clean-up).
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // The state follows the command name's closing parenthesis: "123 (dqlite-chaos) S ...".
        guard let paren = stat.lastIndex(of: ")") else { return false }
        return !stat[paren...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
