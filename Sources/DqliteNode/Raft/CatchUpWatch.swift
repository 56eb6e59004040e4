import CRaft
import CUV

/// While a node that lost Raft data holds its vote (`DamagedRaftData`), says plainly when no leader is
/// catching it up: when a majority of voters lost their data, none can be elected (the nodes that lost it
/// hold their votes), and only an operator can choose which data survives.
final class CatchUpWatch {
    private unowned let engine: RaftEngine
    private let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    private let started: UInt64
    private let periodMs: UInt64
    private var closed = false

    init(engine: RaftEngine, periodMs: UInt64) {
        self.engine = engine
        self.periodMs = periodMs
        started = uv_now(engine.loop.loop)
        uv_timer_init(engine.loop.loop, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(timer, { t in
            Unmanaged<CatchUpWatch>.fromOpaque(t!.pointee.data).takeUnretainedValue().tick()
        }, periodMs, periodMs)
    }

    private func tick() {
        guard !closed, engine.initialised, !engine.stopping, engine.catchingUp else { return close() }
        guard engine.leader == nil else { return }
        let seconds = (uv_now(engine.loop.loop) - started) / 1000
        engine.logger.error("""
            cannot recover from peers: this node lost Raft data and has held its vote for \(seconds) s, and no leader \
            has caught it up. If a majority of voters lost their data, no leader can be elected: stop the nodes, \
            and on the voter with the most data run `dqlite-node recover --id <its id> --dir <its dir> --cluster \
            <file listing the members>`, then start them again (docs/node.md#recovery). Damaged files are kept in \
            \(engine.dataDir)/damaged-*.
            """)
    }

    func close() {
        guard !closed else { return }
        closed = true
        uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self)) { h in h!.deallocate() }
    }
}
