#if canImport(Glibc)
import Glibc
#endif
import CUV

/// Writers waiting for a database's write lock, instead of failing at once with "database is locked" as
/// C dqlite 1.11 does. A waiter retries when the lock is released (on the next loop turn: the release is
/// reported from inside SQLite or Raft callbacks), and fails at its deadline. Loop thread only.
final class BusyQueue {
    private struct Waiter {
        let deadline: UInt64  // uv_now milliseconds
        let retry: () -> Void
        let expire: () -> Void
    }

    private let loop: UVLoop
    private lazy var timer = LoopTimer(loop: loop.loop) { [unowned self] in expire() }
    private var waiters: [String: [Waiter]] = [:]
    private var scheduled: Set<String> = []

    init(loop: UVLoop) {
        self.loop = loop
    }

    var now: UInt64 { uv_now(loop.loop) }

    /// Parks a writer of `database` until the write lock is released or `timeoutMs` passes.
    func park(_ database: String, timeoutMs: UInt32, retry: @escaping () -> Void, expire: @escaping () -> Void) {
        waiters[database, default: []].append(Waiter(deadline: now + UInt64(timeoutMs), retry: retry, expire: expire))
        armTimer()
    }

    /// The write lock of `database` was released: its waiters retry, in arrival order, on the next loop turn.
    func released(_ database: String) {
        guard waiters[database]?.isEmpty == false, !scheduled.contains(database) else { return }
        scheduled.insert(database)
        loop.later { [unowned self] in
            self.scheduled.remove(database)
            let ready = self.waiters.removeValue(forKey: database) ?? []
            for w in ready { w.retry() }
        }
    }

    private func armTimer() {
        guard let next = waiters.values.joined().map(\.deadline).min() else { return timer.stop() }
        timer.start(afterMs: next > now ? next - now : 0)
    }

    private func expire() {
        let t = now
        var expired: [Waiter] = []
        for (db, list) in waiters {
            expired += list.filter { $0.deadline <= t }
            waiters[db] = list.filter { $0.deadline > t }
        }
        armTimer()
        for w in expired { w.expire() }
    }

    /// Fails every waiter (the node is stopping) and closes the timer.
    func close() {
        let all = waiters.values.joined()
        waiters.removeAll()
        for w in all { w.expire() }
        timer.close()
    }
}
