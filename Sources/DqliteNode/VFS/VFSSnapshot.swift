import DqliteWire
/// Whole-state copies of the VFS for Raft snapshots.
extension ReplicatingVFS {
    /// Every database's main file and committed WAL: the state at the last applied entry. Transactions still
    /// replicating come after that entry in the log, so they are rightly left out.
    public func snapshot() throws(VFSError) -> [DatabaseFiles] {
        var out: [DatabaseFiles] = []
        for name in databaseNames {
            let db = databases[name]!
            var main = [UInt8]()
            main.reserveCapacity(db.pages.count * db.pageSize)
            for p in db.pages { main += p }
            var wal = [UInt8]()
            if !db.wal.header.isEmpty {
                wal.reserveCapacity(db.wal.fileSize)
                wal += db.wal.header
                for f in db.wal.frames {
                    wal += f.header
                    wal += f.page
                }
            }
            out.append(DatabaseFiles(name: name, main: main, wal: wal))
        }
        return out
    }

    /// The state `snapshot()` would copy, without copying it: every database's pages and committed WAL
    /// frames as they are now (Swift arrays: the VFS goes on changing its own copies, copying a page only
    /// when it writes to it), for encoding on another thread (see `RaftFSM`).
    public func snapshotView() -> SnapshotView {
        SnapshotView(databases: databaseNames.map { name in
            let db = databases[name]!
            return SnapshotView.Database(name: name, pageSize: db.pageSize, pages: db.pages, walHeader: db.wal.header,
                                         frames: db.wal.frames, walSize: db.wal.header.isEmpty ? 0 : db.wal.fileSize)
        })
    }

    /// The snapshot's encoded size (SnapshotFormat), for `writeSnapshot`.
    public func encodedSnapshotSize() -> Int { snapshotView().encodedSize }

    /// Writes the snapshot, encoded as `SnapshotFormat.encode(snapshot())` would, straight into `out`
    /// (`encodedSnapshotSize()` bytes).
    public func writeSnapshot(into out: UnsafeMutableRawPointer, size: Int) { snapshotView().write(into: out, size: size) }

    /// Replaces the named databases with `files`. Connections already open see the new contents: their view
    /// of the WAL is invalidated so the next read rebuilds it.
    public func restore(_ files: [DatabaseFiles]) throws(VFSError) {
        var parsed: [(String, Int, [[UInt8]], [UInt8], [WALFrame])] = []
        for f in files {
            var pageSize = 0
            if !f.main.isEmpty {
                guard f.main.count >= 100 else { throw .malformed("\(f.name): main file of \(f.main.count) bytes") }
                let raw = Int(f.main[16]) << 8 | Int(f.main[17])
                pageSize = raw == 1 ? 65536 : raw
                guard pageSize >= 512, pageSize & (pageSize - 1) == 0, f.main.count % pageSize == 0 else {
                    throw .malformed("\(f.name): main file of \(f.main.count) bytes with page size \(pageSize)")
                }
            }
            let pages = pageSize == 0 ? [] : stride(from: 0, to: f.main.count, by: pageSize).map { Array(f.main[$0..<($0 + pageSize)]) }
            var header = [UInt8](), frames: [WALFrame] = []
            if !f.wal.isEmpty {
                guard f.wal.count >= WALFormat.headerSize else { throw .malformed("\(f.name): WAL of \(f.wal.count) bytes") }
                header = Array(f.wal[0..<WALFormat.headerSize])
                let walPageSize = Int(WALFormat.readBE32(header, 8))
                let frameSize = WALFormat.frameHeaderSize + walPageSize
                guard walPageSize >= 512, (f.wal.count - WALFormat.headerSize) % frameSize == 0,
                      pageSize == 0 || pageSize == walPageSize else {
                    throw .malformed("\(f.name): WAL of \(f.wal.count) bytes with page size \(walPageSize)")
                }
                for start in stride(from: WALFormat.headerSize, to: f.wal.count, by: frameSize) {
                    frames.append(WALFrame(header: Array(f.wal[start..<(start + WALFormat.frameHeaderSize)]),
                                           page: Array(f.wal[(start + WALFormat.frameHeaderSize)..<(start + frameSize)])))
                }
                if pageSize == 0 { pageSize = walPageSize }
            }
            parsed.append((f.name, pageSize, pages, header, frames))
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

    /// Size of the encoding (SnapshotFormat).
    public var encodedSize: Int {
        var size = 16
        for db in databases {
            let fixed = db.name.utf8.count + 1
            size += (fixed + 7) / 8 * 8 + 16
            let body = db.pages.count * db.pageSize + db.walSize
            size += (body + 7) / 8 * 8
        }
        return size
    }

    /// Writes the encoding (SnapshotFormat, `encodedSize` bytes) into `out` in one pass.
    public func write(into out: UnsafeMutableRawPointer, size: Int) {
        var at = 0
        func put(_ bytes: UnsafeRawBufferPointer) {
            precondition(at + bytes.count <= size, "snapshot larger than its computed size")
            if bytes.count > 0 { (out + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            at += bytes.count
        }
        func put(_ bytes: [UInt8]) { bytes.withUnsafeBytes { put($0) } }
        func pad(from start: Int) {
            let n = (8 - (at - start) % 8) % 8
            (out + at).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            at += n
        }
        var header = WireWriter(capacity: 64)
        header.uint64(SnapshotFormat.format)
        header.uint64(UInt64(databases.count))
        put(header.bytes)
        for db in databases {
            var w = WireWriter(capacity: 64)
            w.text(db.name)
            w.uint64(UInt64(db.pages.count * db.pageSize))
            w.uint64(UInt64(db.walSize))
            put(w.bytes)
            let start = at
            for p in db.pages { put(p) }
            if !db.walHeader.isEmpty {
                put(db.walHeader)
                for f in db.frames {
                    put(f.header)
                    put(f.page)
                }
            }
            pad(from: start)
        }
        precondition(at == size, "snapshot of \(at) bytes, \(size) computed")
    }
}
