import CSQLite

/// Reads and writes of the three kinds of file, in SQLite's terms (offsets, amounts, result codes).
enum FileIO {
    // MARK: Main database file: whole pages.

    static func read(_ db: DatabaseImage, _ out: UnsafeMutableRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        let size = db.pageSize
        guard size > 0 else {
            out.initializeMemory(as: UInt8.self, repeating: 0, count: amount)
            return DQS_IOERR_SHORT_READ
        }
        let index = offset / size, within = offset % size
        guard index < db.pages.count else {
            out.initializeMemory(as: UInt8.self, repeating: 0, count: amount)
            return DQS_IOERR_SHORT_READ
        }
        let n = min(amount, size - within)
        db.pages[index].withUnsafeBytes { out.copyMemory(from: $0.baseAddress! + within, byteCount: n) }
        if n < amount {
            (out + n).initializeMemory(as: UInt8.self, repeating: 0, count: amount - n)
            return DQS_IOERR_SHORT_READ
        }
        return SQLITE_OK
    }

    static func write(_ db: DatabaseImage, _ data: UnsafeRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        if offset == 0 && db.pageSize == 0 {
            guard amount >= 100 else { return DQS_IOERR_WRITE }
            // Page size: big-endian u16 at header offset 16, where 1 means 65536.
            let raw = Int(data.load(fromByteOffset: 16, as: UInt8.self)) << 8 | Int(data.load(fromByteOffset: 17, as: UInt8.self))
            db.pageSize = raw == 1 ? 65536 : raw
        }
        let size = db.pageSize
        guard size > 0, amount == size, offset % size == 0 else { return DQS_IOERR_WRITE }
        let index = offset / size
        let page = [UInt8](UnsafeRawBufferPointer(start: data, count: amount))
        if index < db.pages.count {
            db.pages[index] = page
        } else if index == db.pages.count {
            db.pages.append(page)
        } else if index == db.pages.count + 1 && db.pages.count == pendingBytePageIndex(pageSize: size) {
            // SQLite never writes the page that holds the pending byte (at 1 GiB): keep it as zeros. (This
            // branch had compared the wrong pages and never ran: every checkpoint of a database past 1 GiB
            // failed, and its WAL grew without end.)
            db.pages.append([UInt8](repeating: 0, count: size))
            db.pages.append(page)
        } else {
            return DQS_IOERR_WRITE
        }
        return SQLITE_OK
    }

    /// The index (from 0) of the page that holds SQLite's pending byte, at 1 GiB: SQLite never writes it.
    static func pendingBytePageIndex(pageSize: Int) -> Int { 0x4000_0000 / pageSize }

    static func truncate(_ db: DatabaseImage, _ size: Int) -> Int32 {
        guard db.pageSize > 0 else { return size == 0 ? SQLITE_OK : DQS_IOERR_TRUNCATE }
        let keep = (size + db.pageSize - 1) / db.pageSize
        if keep < db.pages.count { db.pages.removeLast(db.pages.count - keep) }
        return SQLITE_OK
    }

    // MARK: WAL: a header then frames, committed first, then the pending transaction.

    /// Copies any range of the WAL as SQLite sees it (header, frame headers, checksums, pages, whole frames).
    static func read(_ wal: WALImage, _ out: UnsafeMutableRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        var done = 0
        while done < amount {
            let at = offset + done
            guard let (bytes, start) = piece(wal, at) else {
                (out + done).initializeMemory(as: UInt8.self, repeating: 0, count: amount - done)
                return DQS_IOERR_SHORT_READ
            }
            let n = min(amount - done, bytes.count - start)
            bytes.withUnsafeBytes { (out + done).copyMemory(from: $0.baseAddress! + start, byteCount: n) }
            done += n
        }
        return SQLITE_OK
    }

    /// The stored bytes that hold WAL offset `at`, and the position of `at` within them.
    private static func piece(_ wal: WALImage, _ at: Int) -> ([UInt8], Int)? {
        if at < WALFormat.headerSize { return wal.header.count == WALFormat.headerSize ? (wal.header, at) : nil }
        let size = wal.pageSize
        guard size > 0 else { return nil }
        let frameSize = WALFormat.frameHeaderSize + size
        let index = (at - WALFormat.headerSize) / frameSize + 1
        let within = (at - WALFormat.headerSize) % frameSize
        guard let frame = wal.frame(index) else { return nil }
        return within < WALFormat.frameHeaderSize ? (frame.header, within) : (frame.page, within - WALFormat.frameHeaderSize)
    }

    static func write(_ wal: WALImage, _ data: UnsafeRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        if offset == 0 {
            guard amount == WALFormat.headerSize else { return DQS_IOERR_WRITE }
            wal.header = [UInt8](UnsafeRawBufferPointer(start: data, count: amount))
            return SQLITE_OK
        }
        let size = wal.pageSize
        guard size > 0, offset >= WALFormat.headerSize else { return DQS_IOERR_WRITE }
        let frameSize = WALFormat.frameHeaderSize + size
        var done = 0
        while done < amount {
            let at = offset + done
            let index = (at - WALFormat.headerSize) / frameSize + 1
            let within = (at - WALFormat.headerSize) % frameSize
            // Only the pending transaction is written: committed and replicating frames are never rewritten.
            let p = index - wal.frames.count - wal.inflight.count - 1
            guard p >= 0 && p <= wal.pending.count else { return DQS_IOERR_WRITE }
            if p == wal.pending.count {
                wal.pending.append(WALFrame(header: [UInt8](repeating: 0, count: WALFormat.frameHeaderSize),
                                            page: [UInt8](repeating: 0, count: size)))
            }
            if within < WALFormat.frameHeaderSize {
                let n = min(amount - done, WALFormat.frameHeaderSize - within)
                wal.pending[p].header.withUnsafeMutableBytes { ($0.baseAddress! + within).copyMemory(from: data + done, byteCount: n) }
                done += n
            } else {
                let inPage = within - WALFormat.frameHeaderSize
                let n = min(amount - done, size - inPage)
                wal.pending[p].page.withUnsafeMutableBytes { ($0.baseAddress! + inPage).copyMemory(from: data + done, byteCount: n) }
                done += n
            }
        }
        return SQLITE_OK
    }

    // MARK: Memory files (journals, temporary files).

    static func read(_ f: MemoryFile, _ out: UnsafeMutableRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        let available = max(0, min(amount, f.bytes.count - offset))
        if available > 0 { f.bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress! + offset, byteCount: available) } }
        if available < amount {
            (out + available).initializeMemory(as: UInt8.self, repeating: 0, count: amount - available)
            return DQS_IOERR_SHORT_READ
        }
        return SQLITE_OK
    }

    static func write(_ f: MemoryFile, _ data: UnsafeRawPointer, _ amount: Int, _ offset: Int) -> Int32 {
        if f.bytes.count < offset + amount { f.bytes += [UInt8](repeating: 0, count: offset + amount - f.bytes.count) }
        f.bytes.withUnsafeMutableBytes { ($0.baseAddress! + offset).copyMemory(from: data, byteCount: amount) }
        return SQLITE_OK
    }
}
