import CRaft
import CUV

/// While a node that lost Raft data holds its vote (`DamagedRaftData`), says plainly when no leader is
/// catching it up: when a majority of voters lost their data, none can be elected (the nodes that lost it
/// hold their votes), and only an operator can choose which data survives.
final class CatchUpWatch {
    private unowned let engine: RaftEngine
    private var timer: LoopTimer?
    private let started: UInt64

    init(engine: RaftEngine, periodMs: UInt64) {
        self.engine = engine
        started = uv_now(engine.loop.loop)
        timer = LoopTimer(loop: engine.loop.loop, firstMs: periodMs, periodMs: periodMs) { [unowned self] in tick() }
    }

    private func tick() {
        guard engine.initialised, !engine.stopping, engine.catchingUp else { return close() }
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
        timer?.close()
    }
}
