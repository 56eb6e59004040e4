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

    public init(pageSize: Int, pageNumbers: [UInt32], pages: [UInt8]) {
        self.pageSize = pageSize
        self.pageNumbers = pageNumbers
        self.pages = pages
    }
}

/// Hiding, capturing, applying and abandoning transactions (reference/sqlite-wal.md §4-§5).
extension DatabaseImage {
    /// The checksum the next frame continues from: the last committed frame's, else the WAL header's.
    private var chainChecksum: (UInt32, UInt32) {
        if let last = wal.frames.last { return last.checksum }
        return wal.header.count == WALFormat.headerSize ? WALFormat.storedChecksum(wal.header, at: 24) : (0, 0)
    }

    /// Rewinds the wal-index header to the committed frames, so no connection sees pending ones.
    func hidePending() {
        guard let region = shm.regions.first else { return }
        WALIndex.amend(region, frames: UInt32(wal.frames.count), pages: committedPageCount,
                       frameChecksum: wal.frames.last?.checksum ?? (0, 0))
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
extension ReplicatingVFS {
    /// After each `sqlite3_step` on the leader: when SQLite has just written a whole transaction, takes its
    /// pages out of the WAL, keeps them hidden, and holds the write lock (owned by no connection) until
    /// `apply` or `abort`, so no other writer can start meanwhile. Nil when there is nothing to replicate.
    public func poll(database: String) -> CapturedPages? {
        guard let db = databases[database], let last = db.wal.pending.last, last.commitSize != 0 else { return nil }
        let size = db.wal.pageSize
        var pages = [UInt8]()
        pages.reserveCapacity(db.wal.pending.count * size)
        for f in db.wal.pending { pages += f.page }
        let captured = CapturedPages(pageSize: size, pageNumbers: db.wal.pending.map(\.pageNumber), pages: pages)
        db.wal.pending.removeAll()
        db.shm.exclusive[0] = 1
        db.heldForReplication = true
        db.hidePending()
        return captured
    }

    /// Applies a committed transaction's pages (on every node, the leader included). On the node that
    /// polled it, the transaction becomes visible and the write lock is released; elsewhere readers are made
    /// to rebuild their view of the WAL.
    public func apply(database: String, _ captured: CapturedPages) throws(VFSError) {
        guard let db = databases[database] else { throw .noSuchDatabase(database) }
        guard captured.pageSize > 0, captured.pages.count == captured.pageNumbers.count * captured.pageSize,
              !captured.pageNumbers.isEmpty, !captured.pageNumbers.contains(0) else {
            throw .malformed("frames of \(captured.pageNumbers.count) pages in \(captured.pages.count) bytes")
        }
        if db.wal.pageSize != 0 && db.wal.pageSize != captured.pageSize || db.pageSize != 0 && db.pageSize != captured.pageSize {
            throw .malformed("page size \(captured.pageSize) differs from the database's")
        }
        db.appendFrames(captured)
        if db.heldForReplication {
            db.heldForReplication = false
            db.shm.exclusive[0] = 0
            db.hidePending()  // now exposes every committed frame, the new ones included
            db.onWriteLockReleased?()
        } else if let region = db.shm.regions.first {
            WALIndex.invalidate(region)
        }
    }

    /// Gives up a polled transaction (Raft refused or lost it): releases the write lock; its pages are gone.
    public func abort(database: String) {
        guard let db = databases[database], db.heldForReplication else { return }
        db.heldForReplication = false
        db.shm.exclusive[0] = 0
        db.onWriteLockReleased?()
    }
}
