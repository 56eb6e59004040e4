#if canImport(Glibc)
import Glibc
#endif
import CUV

/// Commits that must be answered within the apply timeout: a write whose Raft entry is not committed in time
/// (no quorum reachable, say) is answered with `NodeError.applyTimeout`, outcome unknown, instead of waiting
/// for the leader to step down or for the client's own deadline. The entry itself stays in flight: if it
/// commits later, its transaction stands, and later statements that built on it keep their answers
/// (they wait for it as for any replicating transaction). One timer for all of them. Loop thread only.
final class ApplyDeadlines {
    private struct Pending {
        let deadline: UInt64  // uv_now milliseconds
        let expire: () -> Void
    }

    private let loop: UVLoop
    let timeoutMs: UInt32
    private lazy var timer = LoopTimer(loop: loop.loop) { [unowned self] in fire() }
    private var pending: [UInt64: Pending] = [:]
    private var next: UInt64 = 1

    init(loop: UVLoop, timeoutMs: UInt32) {
        self.loop = loop
        self.timeoutMs = timeoutMs
    }

    private var now: UInt64 { uv_now(loop.loop) }

    /// Calls `expire` once the apply timeout passes, unless `settle` is called first with the returned token.
    func start(expire: @escaping () -> Void) -> UInt64 {
        let token = next
        next += 1
        pending[token] = Pending(deadline: now + UInt64(timeoutMs), expire: expire)
        if pending.count == 1 { arm() }
        return token
    }

    /// The commit `token` was answered by Raft: no timeout for it.
    func settle(_ token: UInt64) {
        pending[token] = nil
        if pending.isEmpty { timer.stop() }
    }

    private func arm() {
        guard let first = pending.values.map(\.deadline).min() else { return timer.stop() }
        timer.start(afterMs: first > now ? first - now : 0)
    }

    private func fire() {
        let t = now
        let due = pending.filter { $0.value.deadline <= t }.sorted { $0.key < $1.key }
        for (token, _) in due { pending[token] = nil }
        arm()
        for (_, p) in due { p.expire() }
    }

    /// The node is stopping: no more timeouts (Raft answers what is in flight as it closes).
    func close() {
        pending.removeAll()
        timer.close()
    }
}
