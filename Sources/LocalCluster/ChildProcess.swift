#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CSpawn

/// A program started with posix_spawn, watched with waitpid, its output read through non-blocking pipes.
///
/// Why not Foundation's `Process` for programs run to completion: on Linux it learns that its child exited
/// when a socket the child inherits is closed, so a child that leaves a daemon behind (tmux's server) is never
/// seen to exit, and `waitUntilExit` spins forever. That hung CI for 70 minutes on a fresh machine, where the
/// shell test's first `tmux new-session` started the server. Here the exit is the child's own `waitpid`, the
/// child gets no descriptor past stderr, and output still held open by a daemon is waited for only briefly.
final class ChildProcess {
    let pid: pid_t
    private var outFD: Int32
    private var errFD: Int32
    private var inFD: Int32
    private var pendingInput: [UInt8]
    private(set) var stdout: [UInt8] = []
    private(set) var stderr: [UInt8] = []
    /// As Foundation's `terminationStatus`: the exit code, or the signal that ended the child.
    private(set) var status: Int32?
    private var exitedAt: ContinuousClock.Instant?
    /// How long output is read after the exit, for a descendant that still holds the pipes.
    private let outputGrace: Duration = .seconds(2)

    /// Starts `executable` in its own process group (so a deadline can stop what it started too), with stdin
    /// from `input` (or /dev/null), and `environment` in place of this process's when given.
    init(_ executable: String, _ arguments: [String], input: String?, environment: [String: String]?) throws {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        guard dqlite_pipe_cloexec(&outPipe) == 0, dqlite_pipe_cloexec(&errPipe) == 0, dqlite_pipe_cloexec(&inPipe) == 0 else {
            let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) }  // the pipes made before the one that failed
            throw error
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        dqlite_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Signals this process ignores or blocks (SIGPIPE) would otherwise stay ignored in the child.
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults)
        sigemptyset(&none)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envList = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envList?.forEach { free($0) } }
        var child: pid_t = 0
        let rc = envList.map { env in posix_spawn(&child, executable, &actions, &attributes, argv, env) }
            ?? posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        for fd in [outPipe[1], errPipe[1], inPipe[0]] { close(fd) }
        guard rc == 0 else {
            for fd in [outPipe[0], errPipe[0], inPipe[1]] { close(fd) }
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)
        }
        pid = child
        outFD = outPipe[0]
        errFD = errPipe[0]
        inFD = inPipe[1]
        pendingInput = Array((input ?? "").utf8)
        for fd in [outFD, errFD, inFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if input == nil { close(inFD); inFD = -1 }
        // A child that exits without reading its input must not end this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        for fd in [outFD, errFD, inFD] where fd >= 0 { close(fd) }
        if status == nil { Glibc.kill(-pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
    }

    /// Moves input and output along and notes the exit; true when the child has exited and its output is
    /// read to the end (or the grace after the exit has passed).
    func poll() -> Bool {
        feedInput()
        drain(&outFD, into: &stdout)
        drain(&errFD, into: &stderr)
        if status == nil {
            var raw: Int32 = 0
            let r = waitpid(pid, &raw, WNOHANG)
            if r == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : raw & 0x7f
                exitedAt = .now
            } else if r < 0 && errno == ECHILD {
                status = -1
                exitedAt = .now
            }
        }
        guard status != nil, let exitedAt else { return false }
        if outFD < 0 && errFD < 0 { return true }
        return ContinuousClock.now - exitedAt > outputGrace
    }

    /// SIGKILL to the child's process group (the child and whatever it started that stayed in it).
    func kill() { Glibc.kill(-pid, SIGKILL) }

    private func feedInput() {
        guard inFD >= 0 else { return }
        while !pendingInput.isEmpty {
            let n = pendingInput.withUnsafeBytes { write(inFD, $0.baseAddress, $0.count) }
            if n > 0 { pendingInput.removeFirst(n); continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            break  // the child closed its input: the rest is dropped
        }
        close(inFD)
        inFD = -1
    }

    private func drain(_ fd: inout Int32, into buffer: inout [UInt8]) {
        guard fd >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { buffer.append(contentsOf: chunk[..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            close(fd)
            fd = -1
            return
        }
    }
}
