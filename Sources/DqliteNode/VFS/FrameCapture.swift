#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// A write transaction's pages, as the leader captures them and every node applies them.
public struct CapturedPages: Sendable, Equatable {
    public var pageSize: Int
    public var pageNumbers: [UInt32]
    /// `pageNumbers.count * pageSize` bytes, page after page.
    public var pages: [UInt8]
    /// The database size in pages after the commit, as SQLite wrote it in the commit frame (the command's
    /// `truncate` field); 0 when unknown, and then derived from the pages.
    public var commitSize: UInt32

    public init(pageSize: Int, pageNumbers: [UInt32], pages: [UInt8], commitSize: UInt32 = 0) {
        self.pageSize = pageSize
        self.pageNumbers = pageNumbers
        self.pages = pages
        self.commitSize = commitSize
    }
}

/// A transaction the leader polled: its pages and the id that `abort` takes.
public struct PolledTransaction: Sendable {
    public var id: UInt64
    public var pages: CapturedPages
}

/// Hiding, capturing, applying and abandoning transactions (reference/sqlite-wal.md §4-§5).
extension DatabaseImage {
    /// The checksum the next frame continues from: the last committed frame's, else the WAL header's.
    private var chainChecksum: (UInt32, UInt32) {
        if let last = wal.frames.last { return last.checksum }
        return wal.header.count == WALFormat.headerSize ? WALFormat.storedChecksum(wal.header, at: 24) : (0, 0)
    }

    /// Sets the wal-index header to what connections may see: the committed frames, plus the replicating
    /// ones while `speculating`; never the pending transaction.
    func publishHeader() {
        guard let region = shm.regions.first else { return }
        if speculating, let last = wal.inflight.last {
            WALIndex.amend(region, frames: UInt32(wal.frames.count + wal.inflight.count), pages: last.commitSize,
                           frameChecksum: last.checksum)
        } else {
            WALIndex.amend(region, frames: UInt32(wal.frames.count), pages: committedPageCount,
                           frameChecksum: wal.frames.last?.checksum ?? (0, 0))
        }
    }

    /// Leaves the frames of replicating transactions `from` index on (of `inflightTransactions`) out.
    func dropInflight(from index: Int) {
        let kept = wal.inflightTransactions[..<index].reduce(0) { $0 + $1.frames }
        wal.inflight.removeSubrange(kept...)
        wal.inflightTransactions.removeSubrange(index...)
    }

    /// xShmLock with per-slot counts. Releasing the write lock drops a transaction that never committed.
    func shmLock(_ offset: Int, _ n: Int, _ flags: Int32) -> Int32 {
        guard offset >= 0, n >= 1, offset + n <= 8 else { return SQLITE_IOERR }
        let range = offset..<(offset + n)
        if flags & SQLITE_SHM_UNLOCK != 0 {
            if flags & SQLITE_SHM_SHARED != 0 {
                for i in range where shm.shared[i] > 0 { shm.shared[i] -= 1 }
            } else {
                for i in range where shm.exclusive[i] > 0 { shm.exclusive[i] = 0 }
                if offset == 0 {
                    wal.dropUncommittedPending()
                    onWriteLockReleased?()
                }
            }
            return SQLITE_OK
        }
        if flags & SQLITE_SHM_SHARED != 0 {
            if range.contains(where: { shm.exclusive[$0] > 0 }) { return SQLITE_BUSY }
            for i in range { shm.shared[i] += 1 }
        } else {
            if range.contains(where: { shm.exclusive[$0] > 0 || shm.shared[$0] > 0 }) { return SQLITE_BUSY }
            // A writer may build on replicating transactions only when its snapshot includes them (it began
            // while `speculating`); any other writer, a checkpoint for one, waits until they have committed.
            if offset == 0 && !wal.inflight.isEmpty && (!speculating || wal.inflightTransactions.count >= Self.maxReplicating) {
                return SQLITE_BUSY
            }
            for i in range { shm.exclusive[i] = 1 }
        }
        return SQLITE_OK
    }

    /// After a TRUNCATE checkpoint (or a delete): no frames; a restarted header unless `dropHeader`.
    func resetWAL(dropHeader: Bool = false) {
        if dropHeader || wal.header.count != WALFormat.headerSize {
            wal.header = []
        } else {
            wal.header = WALFormat.restartHeader(from: wal.header, pageSize: wal.pageSize, newSalt2: UInt32.random(in: 0...UInt32.max))
        }
        wal.frames.removeAll()
        wal.pending.removeAll()
    }

    /// Appends committed frames for `captured`, as SQLite would have written them under this WAL's salts.
    func appendFrames(_ captured: CapturedPages) {
        let size = captured.pageSize
        if wal.header.count != WALFormat.headerSize {
            var g = SystemRandomNumberGenerator()
            wal.header = WALFormat.header(pageSize: size, sequence: 0, salt1: g.next(), salt2: g.next())
        }
        let native = WALFormat.nativeChecksum(header: wal.header)
        var sum = chainChecksum
        var dbSize = committedPageCount
        for p in captured.pageNumbers { dbSize = max(dbSize, p) }
        if captured.commitSize != 0 { dbSize = captured.commitSize }
        for (i, pgno) in captured.pageNumbers.enumerated() {
            var header = [UInt8](repeating: 0, count: WALFormat.frameHeaderSize)
            WALFormat.writeBE32(pgno, into: &header, at: 0)
            WALFormat.writeBE32(i == captured.pageNumbers.count - 1 ? dbSize : 0, into: &header, at: 4)
            for k in 16..<24 { header[k - 8] = wal.header[k] }  // the salts, raw
            let page = Array(captured.pages[(i * size)..<((i + 1) * size)])
            sum = header.withUnsafeBytes { WALFormat.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<8]), native: native, seed: sum) }
            sum = page.withUnsafeBytes { WALFormat.checksum($0, native: native, seed: sum) }
            WALFormat.writeBE32(sum.0, into: &header, at: 16)
            WALFormat.writeBE32(sum.1, into: &header, at: 20)
            wal.frames.append(WALFrame(header: header, page: page))
        }
    }
}

/// The replication API the leader and the FSM use.
///
/// Writes are pipelined: once a transaction is polled and sent to Raft, the write lock is free again, and
/// the next write transaction may build on it (it sees the replicating frames while `speculating`) while
/// every reader still sees committed frames only. Commits arrive in log order and promote the oldest
/// replicating transaction; a failed one is dropped with everything built on it.
extension ReplicatingVFS {
    /// Makes the wal-index show the replicating transactions during the next step: for a write that starts a
    /// new transaction on the leader (its snapshot then includes them), and for every step of the transaction
    /// holding the write lock (`holdsWriteLock`). The holder must see the same header it started from:
    /// SQLite compares its snapshot with the live header when it writes frames, and on a difference rewrites
    /// frames beyond the live header in place, taking them for its own (they would be replicating ones).
    /// `endSpeculation` goes back to committed frames only.
    ///
    /// Once the WAL has reached `checkpointFrames`, new transactions stop building on replicating ones, so
    /// that those drain and the checkpoint that follows their commit can run (it needs none in flight).
    /// Whether the step will see replicating transactions.
    @discardableResult
    public func beginSpeculation(database: String, holdsWriteLock: Bool = false) -> Bool {
        guard let db = databases[database],
              holdsWriteLock || db.wal.frames.count + db.wal.inflight.count < checkpointFrames else { return false }
        db.speculating = true
        if db.heldForReplication { db.publishHeader() }
        return !db.wal.inflightTransactions.isEmpty
    }

    /// The most recently polled transaction still replicating, if any.
    public func lastReplicatingTransaction(database: String) -> UInt64? {
        databases[database]?.wal.inflightTransactions.last?.id
    }

    public func endSpeculation(database: String) {
        guard let db = databases[database], db.speculating else { return }
        db.speculating = false
        if db.heldForReplication { db.publishHeader() }
    }

    /// After each `sqlite3_step` on the leader: when SQLite has just written a whole transaction, moves its
    /// frames to the replicating ones (hidden from readers) and returns its pages. Nil when there is nothing
    /// to replicate.
    public func pollTransaction(database: String) -> PolledTransaction? {
        guard let db = databases[database], let last = db.wal.pending.last, last.commitSize != 0 else { return nil }
        let size = db.wal.pageSize
        var pages = [UInt8]()
        pages.reserveCapacity(db.wal.pending.count * size)
        for f in db.wal.pending { pages += f.page }
        let captured = CapturedPages(pageSize: size, pageNumbers: db.wal.pending.map(\.pageNumber), pages: pages,
                                     commitSize: last.commitSize)
        let id = db.nextTransactionID
        db.nextTransactionID += 1
        db.wal.inflightTransactions.append((id, db.wal.pending.count, 0))
        db.wal.inflight += db.wal.pending
        db.wal.pending.removeAll()
        db.publishHeader()
        return PolledTransaction(id: id, pages: captured)
    }

    /// `pollTransaction`'s pages only.
    public func poll(database: String) -> CapturedPages? { pollTransaction(database: database)?.pages }

    /// Applies a committed transaction's pages (on every node, the leader included). On the leader, it is the
    /// oldest replicating transaction: its frames, as SQLite wrote them, become committed. Elsewhere they are
    /// appended and readers are made to rebuild their view of the WAL.
    public func apply(database: String, _ captured: CapturedPages) throws(VFSError) {
        guard let db = databases[database] else { throw .noSuchDatabase(database) }
        guard captured.pageSize > 0, captured.pages.count == captured.pageNumbers.count * captured.pageSize,
              !captured.pageNumbers.isEmpty, !captured.pageNumbers.contains(0) else {
            throw .malformed("frames of \(captured.pageNumbers.count) pages in \(captured.pages.count) bytes")
        }
        if db.wal.pageSize != 0 && db.wal.pageSize != captured.pageSize || db.pageSize != 0 && db.pageSize != captured.pageSize {
            throw .malformed("page size \(captured.pageSize) differs from the database's")
        }
        if let oldest = db.wal.inflightTransactions.first {
            // The entry carries the oldest replicating transaction, or its whole group (merged pages).
            let group = oldest.batch == 0 ? 1 : db.wal.inflightTransactions.prefix { $0.batch == oldest.batch }.count
            let count = db.wal.inflightTransactions.prefix(group).reduce(0) { $0 + $1.frames }
            let numbers = db.wal.inflight[..<count].map(\.pageNumber)
            let matches = group == 1 ? numbers == captured.pageNumbers
                : Set(numbers) == Set(captured.pageNumbers) && Set(captured.pageNumbers).count == captured.pageNumbers.count
            if matches {
                db.wal.frames += db.wal.inflight[..<count]
                db.wal.inflight.removeFirst(count)
                db.wal.inflightTransactions.removeFirst(group)
            } else {
                // Not what this leader sent: the log is the truth, and nothing built here on it can commit.
                db.dropInflight(from: 0)
                db.appendFrames(captured)
            }
            db.publishHeader()
            db.onWriteLockReleased?()
        } else {
            db.appendFrames(captured)
            if let region = db.shm.regions.first { WALIndex.invalidate(region) }
        }
    }

    /// Marks the replicating transactions `ids` (consecutive) as carried by one Raft entry, `batch`.
    public func group(database: String, ids: [UInt64], batch: UInt64) {
        guard ids.count > 1, let db = databases[database] else { return }
        let wanted = Set(ids)
        for i in db.wal.inflightTransactions.indices where wanted.contains(db.wal.inflightTransactions[i].id) {
            db.wal.inflightTransactions[i].batch = batch
        }
    }

    /// Gives up a polled transaction (Raft refused or lost it) and every transaction built on it.
    public func abort(database: String, id: UInt64) {
        guard let db = databases[database],
              let index = db.wal.inflightTransactions.firstIndex(where: { $0.id == id }) else { return }
        db.dropInflight(from: index)
        db.publishHeader()
        db.onWriteLockReleased?()
    }

    /// Gives up the most recently polled transaction (tests).
    public func abort(database: String) {
        guard let id = databases[database]?.wal.inflightTransactions.last?.id else { return }
        abort(database: database, id: id)
    }
}
