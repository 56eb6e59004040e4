import CSQLite

/// A journal or temporary file: plain bytes in memory. (In WAL mode SQLite writes a journal only once, when
/// the first `journal_mode=WAL` commit puts page 1 straight into the main file.)
final class MemoryFile {
    var bytes: [UInt8] = []
}

/// What an open `sqlite3_file` of the replicating VFS refers to.
final class OpenFile {
    enum Kind {
        case database(DatabaseImage)
        case wal(DatabaseImage)
        case memory(MemoryFile)
    }

    let kind: Kind
    /// The name to drop from the VFS when closed (SQLITE_OPEN_DELETEONCLOSE), if any.
    let deleteOnClose: String?
    var shmMapped = false
    unowned let owner: ReplicatingVFS

    init(kind: Kind, deleteOnClose: String?, owner: ReplicatingVFS) {
        self.kind = kind
        self.deleteOnClose = deleteOnClose
        self.owner = owner
    }

    /// xClose: forget the file; drop it if it was opened to be deleted on close.
    func closed() {
        switch kind {
        case .database(let db), .wal(let db): db.openCount -= 1
        case .memory: break
        }
        if let name = deleteOnClose { _ = owner.delete(name) }
    }

    /// xFileControl. PRAGMA: refuse what would break replication; PERSIST_WAL: always keep the WAL;
    /// COMMIT_PHASETWO: hide the transaction just written until Raft commits it.
    func fileControl(_ op: Int32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
        guard case .database(let db) = kind else { return SQLITE_NOTFOUND }
        switch op {
        case SQLITE_FCNTL_PRAGMA:
            let args = arg!.assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self)
            let name = args[1].map { String(cString: $0).lowercased() } ?? ""
            let value = args[2].map { String(cString: $0).lowercased() }
            if name == "page_size", let value, !db.pages.isEmpty, Int(value) != db.pageSize {
                dqs_pragma_set_error(arg, "changing page_size is not supported")
                return SQLITE_IOERR
            }
            if name == "journal_mode", let value, value != "wal" {
                dqs_pragma_set_error(arg, "only WAL mode is supported")
                return SQLITE_IOERR
            }
            return SQLITE_NOTFOUND
        case SQLITE_FCNTL_PERSIST_WAL:
            arg?.assumingMemoryBound(to: Int32.self).pointee = 1
            return SQLITE_OK
        case SQLITE_FCNTL_COMMIT_PHASETWO:
            if !db.wal.pending.isEmpty { db.publishHeader() }
            return SQLITE_OK
        default:
            return SQLITE_NOTFOUND
        }
    }

    /// The Swift object behind a `sqlite3_file` that xOpen filled in.
    static func from(_ file: UnsafeMutablePointer<sqlite3_file>?) -> OpenFile {
        let ctx = UnsafeMutableRawPointer(file!).assumingMemoryBound(to: dqs_file.self).pointee.ctx!
        return Unmanaged<OpenFile>.fromOpaque(ctx).takeUnretainedValue()
    }
}
