import CMalloc
import CRaft
import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a node's memory goes (issue 21): what it holds on purpose, next to what the process uses. Read on
/// the loop thread, reported as `dqlite_memory_bytes{part}` (every 5 s by `MetricsSampler`).
struct MemoryBreakdown: Equatable {
    /// The databases' pages, as the VFS keeps them.
    var databasePages = 0
    /// WAL frames in memory: committed and not yet checkpointed, or replicating.
    var wal = 0
    /// Payloads of the entries C-Raft keeps in its in-memory log (those since the last snapshot, and the
    /// trailing ones kept after it).
    var raftLogEntries = 0
    /// What a snapshot being stored holds of its own: its list of buffers and headers. It points at the
    /// database's pages (`SnapshotBuffers`), so a page the database rewrites meanwhile is held twice until then.
    var snapshotEncoding = 0
    /// What SQLite allocated: its connections' page caches, prepared statements, schemas.
    var sqliteHeap = 0
    /// malloc's bytes in use, and those freed but kept by malloc (the allocator's slack).
    var mallocInUse = 0
    var mallocFree = 0
    /// Resident set size of the process.
    var resident = 0

    /// Each part by its metrics label.
    var parts: [(String, Int)] {
        [("database_pages", databasePages), ("wal", wal), ("raft_log_entries", raftLogEntries), ("snapshot_encoding", snapshotEncoding),
         ("sqlite_heap", sqliteHeap), ("malloc_in_use", mallocInUse), ("malloc_free", mallocFree), ("resident", resident)]
    }

    static func measure(_ engine: RaftEngine) -> MemoryBreakdown {
        var m = MemoryBreakdown()
        for image in engine.vfs.databases.values {
            m.databasePages += image.pages.count * image.pageSize  // every page has the page size: no walk of them
            let frameBytes = WALFormat.frameHeaderSize + image.wal.pageSize
            m.wal += (image.wal.frames.count + image.wal.inflight.count + image.wal.pending.count) * frameBytes
        }
        if engine.initialised { m.raftLogEntries = raftLogBytes(engine.raft.pointee.log) }
        m.snapshotEncoding = engine.snapshotBuffers.withLock { $0.map { $0.count * MemoryLayout<raft_buffer>.stride + $0.made.reduce(0) { $0 + $1.count } } } ?? 0
        m.sqliteHeap = Int(sqlite3_memory_used())
        let info = mallinfo2()
        m.mallocInUse = Int(info.uordblks) + Int(info.hblkhd)
        m.mallocFree = Int(info.fordblks)
        m.resident = residentBytes()
        return m
    }

    /// The payload bytes of the entries in C-Raft's circular in-memory log.
    static func raftLogBytes(_ log: raft_log) -> Int {
        guard let entries = log.entries, log.size > 0 else { return 0 }
        var total = 0, i = log.front
        while i != log.back {
            total += entries[i].buf.len
            i = (i + 1) % log.size
        }
        return total
    }

    /// VmRSS from /proc/self/statm (its second field, in pages).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
