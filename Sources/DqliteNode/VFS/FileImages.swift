/// In-memory contents of one replicated database: its main file as pages, its WAL (committed frames plus
/// the transaction being written), and its wal-index. Touched only by the thread that owns the VFS.
final class DatabaseImage {
    let name: String
    var pages: [[UInt8]] = []
    /// 0 until page 1 is written.
    var pageSize = 0
    let wal = WALImage()
    let shm = ShmImage()
    /// Open files (main, WAL) referring to this image.
    var openCount = 0
    /// While true (the leader is stepping a write that starts a new transaction), the wal-index shows the
    /// transactions still replicating, so the write builds on them; otherwise it shows committed frames only.
    var speculating = false
    /// Transactions replicating at once, at most; further writers wait (DESIGN.md decision 1: C-Raft's
    /// throughput falls with thousands of entries in flight).
    static let maxReplicating = 256
    /// Numbers the polled transactions, so a failed one (and everything built on it) can be found.
    var nextTransactionID: UInt64 = 1

    /// Some polled transaction has not committed yet.
    var heldForReplication: Bool { !wal.inflight.isEmpty }
    /// Called whenever the write lock is released (by SQLite, or at the end of a replication).
    var onWriteLockReleased: (() -> Void)?

    init(name: String) { self.name = name }

    /// Database size in pages as the last committed WAL frame says it, or the main file's.
    var committedPageCount: UInt32 {
        if let last = wal.frames.last { return WALFormat.readBE32(last.header, 4) }
        return UInt32(pages.count)
    }
}

/// One WAL frame: the 24-byte header and the page.
struct WALFrame: Sendable {
    var header: [UInt8]
    var page: [UInt8]

    var pageNumber: UInt32 { WALFormat.readBE32(header, 0) }
    /// The database size after the commit, on a commit frame; 0 otherwise.
    var commitSize: UInt32 { WALFormat.readBE32(header, 4) }
    var checksum: (UInt32, UInt32) { WALFormat.storedChecksum(header, at: 16) }
}

/// The WAL: a header, the frames Raft has committed, `inflight` (transactions the leader has sent to Raft,
/// in log order, not yet committed) and `pending`, the frames SQLite is writing now.
final class WALImage {
    /// Empty until a header is written.
    var header: [UInt8] = []
    var frames: [WALFrame] = []
    var inflight: [WALFrame] = []
    /// The transactions in `inflight`, oldest first: their ids, how many frames each has, and the Raft entry
    /// (batch) that carries them (0 until grouped: then each is its own entry).
    var inflightTransactions: [(id: UInt64, frames: Int, batch: UInt64)] = []
    var pending: [WALFrame] = []

    var hasContent: Bool { !header.isEmpty || !frames.isEmpty }

    var pageSize: Int {
        guard header.count == WALFormat.headerSize else { return 0 }
        let size = Int(WALFormat.readBE32(header, 8))
        return size == 1 ? 65536 : size
    }

    /// The file size SQLite sees: only committed frames count.
    var fileSize: Int { header.isEmpty ? 0 : WALFormat.headerSize + frames.count * (WALFormat.frameHeaderSize + pageSize) }

    /// The frame with 1-based index `i`: committed, in flight or pending.
    func frame(_ i: Int) -> WALFrame? {
        if i >= 1 && i <= frames.count { return frames[i - 1] }
        let f = i - frames.count - 1
        if f >= 0 && f < inflight.count { return inflight[f] }
        let p = f - inflight.count
        return p >= 0 && p < pending.count ? pending[p] : nil
    }

    /// Drops a pending transaction that never reached its commit frame (a ROLLBACK after pages spilled).
    func dropUncommittedPending() {
        if let last = pending.last, last.commitSize == 0 { pending.removeAll() }
    }
}

/// The wal-index: 32 KiB regions shared by every connection of a database, and the lock counts of its
/// eight lock slots (not tied to connections: SQLite pairs every lock with its unlock).
final class ShmImage {
    var regions: [UnsafeMutableRawPointer] = []
    var shared = [Int](repeating: 0, count: 8)
    var exclusive = [Int](repeating: 0, count: 8)
    /// Connections that have mapped it.
    var refcount = 0

    func region(_ i: Int, extend: Bool) -> UnsafeMutableRawPointer? {
        while regions.count <= i {
            guard extend else { return nil }
            let r = UnsafeMutableRawPointer.allocate(byteCount: WALIndex.regionSize, alignment: 16)
            r.initializeMemory(as: UInt8.self, repeating: 0, count: WALIndex.regionSize)
            regions.append(r)
        }
        return regions[i]
    }

    func release() {
        for r in regions { r.deallocate() }
        regions.removeAll()
        shared = [Int](repeating: 0, count: 8)
        exclusive = [Int](repeating: 0, count: 8)
    }

    deinit { release() }
}
