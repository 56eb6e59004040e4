import CRaft
import CUV
import Foundation

/// Every second, on the loop thread: Raft's term, commit and applied indexes, state, this node's role, leader
/// changes, whether a read lease runs, and the size of the databases and of the Raft log on disk.
final class MetricsSampler {
    private unowned let engine: RaftEngine
    private var timer: LoopTimer?
    private var lastLeader: UInt64?
    private var ticks = 0

    init(engine: RaftEngine) {
        self.engine = engine
        timer = LoopTimer(loop: engine.loop.loop, firstMs: 0, periodMs: 1000) { [unowned self] in tick() }
    }

    private func tick() {
        guard engine.initialised else { return }
        let m = engine.metrics, r = engine.raft.pointee
        m.term.record(r.current_term)
        m.commitIndex.record(r.commit_index)
        m.appliedIndex.record(r.last_applied)
        m.raftState.record(Int(raft_state(engine.raft)))
        let me = engine.configuration.first { $0.id == engine.id }
        m.role.record(me.map { Int($0.role.rawValue) } ?? -1)
        let leader = engine.leader?.id
        if let leader, leader != lastLeader, lastLeader != nil || ticks > 0 { m.leaderChanges.increment() }
        if leader != nil { lastLeader = leader }
        m.leaseHeld.record(engine.readConfirmation?.leaseRunning == true && engine.isLeader ? 1 : 0)
        var db = 0, wal = 0
        for image in engine.vfs.databases.values {
            db += image.pages.count * image.pageSize
            wal += image.wal.fileSize
        }
        m.databaseBytes.record(db)
        m.walBytes.record(wal)
        // The log's files, every 5 s (a directory listing and a stat per segment).
        if ticks % 5 == 0 {
            m.logBytes.record(Self.bytes(in: engine.dataDir))
            for (part, bytes) in MemoryBreakdown.measure(engine).parts { m.memory[part]?.record(bytes) }
        }
        ticks += 1
    }

    private static func bytes(in dir: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var total = 0
        for name in names where name.hasPrefix("open-") || name.first?.isNumber == true {
            var st = stat()
            if stat(dir + "/" + name, &st) == 0 { total += Int(st.st_size) }
        }
        return total
    }

    func close() {
        timer?.close()
    }
}
