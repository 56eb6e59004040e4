import DqliteWire
/// The VFS's whole state, not copied, for Raft snapshots and DUMPs.
extension ReplicatingVFS {
    /// One database's main file and committed WAL (`name` and `name-wal`, a DUMP's reply) as the VFS's own
    /// arrays, not copied: its pages, and the WAL's header and frames. Nil if there is no such database.
    public func dumpFiles(of name: String) -> [FilesReplyPieces.File]? {
        guard let db = databases[name] else { return nil }
        var wal: [[UInt8]] = []
        if !db.wal.header.isEmpty {
            wal.reserveCapacity(1 + 2 * db.wal.frames.count)
            wal.append(db.wal.header)
            for f in db.wal.frames {
                wal.append(f.header)
                wal.append(f.page)
            }
        }
        return [FilesReplyPieces.File(name: name, chunks: db.pages), FilesReplyPieces.File(name: name + "-wal", chunks: wal)]
    }

    /// The state at the last applied entry, without copying it (transactions still replicating come after that
    /// entry in the log, so they are rightly left out): every database's pages and committed WAL frames as
    /// they are now (Swift arrays: the VFS goes on changing its own copies, copying a page only
    /// when it writes to it), for encoding on another thread (see `RaftFSM`).
    public func snapshotView() -> SnapshotView {
        SnapshotView(databases: databaseNames.map { name in
            let db = databases[name]!
            return SnapshotView.Database(name: name, pageSize: db.pageSize, pages: db.pages, walHeader: db.wal.header,
                                         frames: db.wal.frames, walSize: db.wal.header.isEmpty ? 0 : db.wal.fileSize)
        })
    }

    /// Replaces the databases an encoded snapshot holds with its files, copying each page once, straight from
    /// `buffer` (C-Raft's). Connections already open see the new contents: their view of the WAL is
    /// invalidated so the next read rebuilds it. A bad snapshot changes nothing.
    public func restore(snapshot buffer: UnsafeRawBufferPointer) throws(VFSError) {
        let entries: [SnapshotEntry]
        do { entries = try SnapshotFormat.layout(buffer) } catch { throw .malformed("snapshot: \(error)") }
        var parsed: [(String, Int, [[UInt8]], [UInt8], [WALFrame])] = []
        for entry in entries {
            let main = UnsafeRawBufferPointer(rebasing: buffer[entry.main])
            let wal = UnsafeRawBufferPointer(rebasing: buffer[entry.wal])
            var pageSize = 0
            if !main.isEmpty {
                guard main.count >= 100 else { throw .malformed("\(entry.name): main file of \(main.count) bytes") }
                let raw = Int(main[16]) << 8 | Int(main[17])
                pageSize = raw == 1 ? 65536 : raw
                guard pageSize >= 512, pageSize & (pageSize - 1) == 0, main.count % pageSize == 0 else {
                    throw .malformed("\(entry.name): main file of \(main.count) bytes with page size \(pageSize)")
                }
            }
            func bytes(_ from: Int, _ count: Int, of file: UnsafeRawBufferPointer) -> [UInt8] {
                [UInt8](UnsafeRawBufferPointer(rebasing: file[from..<(from + count)]))
            }
            var pages: [[UInt8]] = []
            if pageSize > 0 {
                pages.reserveCapacity(main.count / pageSize)
                for start in stride(from: 0, to: main.count, by: pageSize) { pages.append(bytes(start, pageSize, of: main)) }
            }
            var header = [UInt8](), frames: [WALFrame] = []
            if !wal.isEmpty {
                guard wal.count >= WALFormat.headerSize else { throw .malformed("\(entry.name): WAL of \(wal.count) bytes") }
                header = bytes(0, WALFormat.headerSize, of: wal)
                let walPageSize = Int(WALFormat.readBE32(header, 8))
                let frameSize = WALFormat.frameHeaderSize + walPageSize
                guard walPageSize >= 512, (wal.count - WALFormat.headerSize) % frameSize == 0,
                      pageSize == 0 || pageSize == walPageSize else {
                    throw .malformed("\(entry.name): WAL of \(wal.count) bytes with page size \(walPageSize)")
                }
                frames.reserveCapacity((wal.count - WALFormat.headerSize) / frameSize)
                for start in stride(from: WALFormat.headerSize, to: wal.count, by: frameSize) {
                    frames.append(WALFrame(header: bytes(start, WALFormat.frameHeaderSize, of: wal),
                                           page: bytes(start + WALFormat.frameHeaderSize, walPageSize, of: wal)))
                }
                if pageSize == 0 { pageSize = walPageSize }
            }
            parsed.append((entry.name, pageSize, pages, header, frames))
        }
        // Everything parsed: only now change state, so a bad snapshot leaves the old one intact.
        for (name, pageSize, pages, header, frames) in parsed {
            let db = databases[name] ?? makeImage(name)
            databases[name] = db
            db.pageSize = pageSize
            db.pages = pages
            db.wal.header = header
            db.wal.frames = frames
            db.wal.pending = []
            db.wal.inflight = []
            db.wal.inflightTransactions = []
            if let region = db.shm.regions.first { WALIndex.invalidate(region) }
        }
    }
}

/// Every database's files at one moment, held as the VFS's own (copy-on-write) arrays: taking one costs
/// nothing on the loop thread, and it can be encoded on any thread while the VFS moves on.
public struct SnapshotView: Sendable {
    struct Database: Sendable {
        let name: String
        let pageSize: Int
        let pages: [[UInt8]]
        let walHeader: [UInt8]
        let frames: [WALFrame]
        let walSize: Int
    }
    let databases: [Database]

    /// The encoding (SnapshotFormat) as the arrays it is made of, in order: headers and padding made here
    /// (`made`), and the view's own pages and frames (`SnapshotBuffers` hands them to C-Raft without copying).
    func forEachPiece(_ body: (_ piece: [UInt8], _ made: Bool) -> Void) {
        var header = WireWriter(capacity: 64)
        header.uint64(SnapshotFormat.format)
        header.uint64(UInt64(databases.count))
        body(header.bytes, true)
        for db in databases {
            var w = WireWriter(capacity: 64)
            w.text(db.name)
            w.uint64(UInt64(db.pages.count * db.pageSize))
            w.uint64(UInt64(db.walSize))
            body(w.bytes, true)
            var length = 0
            for p in db.pages {
                body(p, false)
                length += p.count
            }
            if !db.walHeader.isEmpty {
                body(db.walHeader, false)
                length += db.walHeader.count
                for f in db.frames {
                    body(f.header, false)
                    body(f.page, false)
                    length += f.header.count + f.page.count
                }
            }
            let padding = (8 - length % 8) % 8
            if padding > 0 { body([UInt8](repeating: 0, count: padding), true) }
        }
    }
}
