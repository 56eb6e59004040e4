import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Removes what a run created on the host (namespaces, bridge, rules) when the harness is interrupted (Ctrl-C
/// or SIGTERM), then exits with 128 + the signal, as a shell would report it.
///
/// A real handler, not SIG_IGN plus a dispatch source: an ignored signal stays ignored in every child across
/// exec, so nodes would ignore the SIGTERM of a `stop` fault. The handler only writes the signal number to a
/// pipe (async-signal-safe); a thread reading it does the cleanup.
enum InterruptCleanup {
    private static let actions = Mutex<[String: @Sendable () -> Void]>([:])
    private static let pipeWrite = Atomic<Int32>(-1)
    private static let installed = Mutex(false)

    static func register(_ key: String, _ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0[key] = action }
        installOnce()
    }

    static func unregister(_ key: String) {
        _ = actions.withLock { $0.removeValue(forKey: key) }
    }

    private static func installOnce() {
        let first = installed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        pipeWrite.store(fds[1], ordering: .sequentiallyConsistent)
        let readEnd = fds[0]
        let reader = Thread {
            var sig: UInt8 = 0
            while read(readEnd, &sig, 1) != 1 {}
            runAllAndExit(Int32(sig))
        }
        reader.start()
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in
                var b = UInt8(truncatingIfNeeded: s)
                _ = write(InterruptCleanup.pipeWrite.load(ordering: .relaxed), &b, 1)
            }
        }
    }

    private static func runAllAndExit(_ sig: Int32) {
        let all = actions.withLock { a in
            defer { a.removeAll() }
            return Array(a.values)
        }
        FileHandle.standardError.write(Data("dqlite-chaos: interrupted, stopping the run's nodes and removing its namespaces, bridge and files\n".utf8))
        for action in all { action() }
        exit(128 + sig)
    }
}
