import Logging
import CRaft

/// Group commit: the transactions of a database polled within one loop turn go to Raft as one FRAMES entry
/// (their pages merged, the latest version of each page winning, the last commit's database size), so that
/// many concurrent writers cost one log entry, one append on every node and one apply. Fewer entries also
/// means fewer snapshots and segment changes, whose stalls dominate tail latency. Loop thread only.
final class CommitBatcher {
    typealias Completion = (Int32) -> Void

    private unowned let engine: RaftEngine
    private var open: [String: [(polled: PolledTransaction, done: Completion)]] = [:]
    private var scheduled = false
    private var nextBatch: UInt64 = 1
    /// Callers waiting for a replicating transaction's outcome without one of their own (see `after`).
    private var waiters: [UInt64: [Completion]] = [:]

    init(engine: RaftEngine) { self.engine = engine }

    /// Queues `polled` for the entry sent at the end of this loop turn; `done` gets Raft's status for it.
    func submit(database: String, _ polled: PolledTransaction, done: @escaping Completion) {
        open[database, default: []].append((polled, done))
        engine.inFlight += 1  // counted from now, so a stopping node waits for it
        guard !scheduled else { return }
        scheduled = true
        engine.loop.later { [self] in
            scheduled = false
            let batches = open
            open.removeAll()
            for (database, members) in batches { send(database, members) }
        }
    }

    /// `done` gets the Raft status of the replicating transaction `id` once it is known (it is in flight:
    /// submitted, and its completion has not run yet). For statements whose result rests on transactions
    /// still replicating but that wrote nothing themselves (see `WritePath.execute`).
    func after(transaction id: UInt64, done: @escaping Completion) {
        waiters[id, default: []].append(done)
    }

    /// Runs `member`'s completion, then whoever waits for it.
    private func settle(_ id: UInt64, _ done: Completion, _ status: Int32) {
        done(status)
        if let waiting = waiters.removeValue(forKey: id) { for w in waiting { w(status) } }
    }

    private func send(_ database: String, _ members: [(polled: PolledTransaction, done: Completion)]) {
        let ids = members.map(\.polled.id)
        engine.inFlight -= members.count
        let batch = nextBatch
        nextBatch += 1
        engine.vfs.group(database: database, ids: ids, batch: batch)
        func failAll(_ status: Int32) {
            engine.vfs.abort(database: database, id: ids[0])
            for m in members { settle(m.polled.id, m.done, status) }
        }
        guard !engine.stopping else { return failAll(RAFT_SHUTDOWN) }
        let bytes: [UInt8]
        do {
            bytes = try Command.frames(database: database, pages: Self.merge(members.map(\.polled.pages))).encoded(compressed: engine.logCompression)
        } catch {
            return failAll(RAFT_INVALID)
        }
        let base = raft_malloc(bytes.count)!
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var buffer = raft_buffer(base: base, len: bytes.count)
        let request = UnsafeMutablePointer<raft_apply>.allocate(capacity: 1)
        request.initialize(to: raft_apply())
        let context = BatchContext(engine: engine, database: database, firstID: ids[0], ids: ids, completions: members.map(\.done))
        request.pointee.data = Unmanaged.passRetained(context).toOpaque()
        engine.inFlight += 1
        engine.logger.trace("sending \(members.count) transaction(s) on \(database) as one entry of \(bytes.count) bytes")
        let rc = raft_apply(engine.raft, request, &buffer, 1) { req, status, _ in
            let context = Unmanaged<BatchContext>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            context.engine.inFlight -= 1
            context.engine.metrics.recordCommit(since: context.proposed, status: status, transactions: context.completions.count)
            // A failed entry takes every transaction built on it along (they fail on their own callbacks).
            if status != 0 {
                context.engine.logger.warning("\(context.completions.count) transaction(s) on \(context.database) not committed: \(String(cString: raft_strerror(status)))")
                context.engine.vfs.abort(database: context.database, id: context.firstID)
            }
            for (id, done) in zip(context.ids, context.completions) { context.engine.commits.settle(id, done, status) }
        }
        if rc != 0 {
            // Raft did not take the entry: the buffer and the request are still ours.
            raft_free(base)
            Unmanaged<BatchContext>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            engine.inFlight -= 1
            failAll(rc)
        }
    }

    /// One transaction's worth of pages for several consecutive ones.
    static func merge(_ all: [CapturedPages]) -> CapturedPages {
        guard all.count > 1 else { return all[0] }
        let size = all[0].pageSize
        var slot: [UInt32: Int] = [:]
        var numbers: [UInt32] = []
        var pages: [UInt8] = []
        for t in all {
            for (i, p) in t.pageNumbers.enumerated() {
                let page = t.pages[(i * size)..<((i + 1) * size)]
                if let at = slot[p] {
                    pages.replaceSubrange((at * size)..<((at + 1) * size), with: page)
                } else {
                    slot[p] = numbers.count
                    numbers.append(p)
                    pages += page
                }
            }
        }
        return CapturedPages(pageSize: size, pageNumbers: numbers, pages: pages, commitSize: all.last!.commitSize)
    }
}

private final class BatchContext {
    let engine: RaftEngine
    let database: String
    let firstID: UInt64
    let ids: [UInt64]
    let completions: [CommitBatcher.Completion]
    /// When the entry went to Raft (for the commit-duration metric).
    let proposed = ContinuousClock.now

    init(engine: RaftEngine, database: String, firstID: UInt64, ids: [UInt64], completions: [CommitBatcher.Completion]) {
        self.engine = engine
        self.database = database
        self.firstID = firstID
        self.ids = ids
        self.completions = completions
    }
}
