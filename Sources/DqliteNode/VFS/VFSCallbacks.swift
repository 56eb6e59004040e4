#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// The C entry points of the replicating VFS. They are non-capturing closures (C function pointers) that
/// find their Swift objects through `pAppData` and the file's `ctx`.
enum VFSCallbacks {
    static func vfs(name: UnsafePointer<CChar>, szOsFile: Int32) -> sqlite3_vfs {
        var v = sqlite3_vfs()
        v.iVersion = 2
        v.szOsFile = szOsFile
        v.mxPathname = 512
        v.zName = name
        v.xOpen = { vfs, zName, file, flags, outFlags in
            ReplicatingVFS.from(vfs).open(zName.map { String(cString: $0) }, file!, flags, outFlags)
        }
        v.xDelete = { vfs, zName, _ in
            ReplicatingVFS.from(vfs).delete(String(cString: zName!))
        }
        v.xAccess = { vfs, zName, _, out in
            out!.pointee = ReplicatingVFS.from(vfs).exists(String(cString: zName!)) ? 1 : 0
            return SQLITE_OK
        }
        v.xFullPathname = { _, zName, nOut, zOut in
            let n = strlen(zName!)
            guard n < Int(nOut) else { return SQLITE_CANTOPEN }
            memcpy(zOut!, zName!, n + 1)
            return SQLITE_OK
        }
        v.xRandomness = { _, n, out in
            var g = SystemRandomNumberGenerator()
            for i in 0..<Int(n) { out![i] = CChar(bitPattern: UInt8.random(in: 0...255, using: &g)) }
            return n
        }
        v.xSleep = { vfs, micros in
            // With one thread owning every connection nothing can free a lock while SQLite sleeps, so a
            // sleep means a retry loop: counted, so tests can see it.
            ReplicatingVFS.from(vfs).sleeps += 1
            usleep(UInt32(max(0, micros)))
            return micros
        }
        v.xCurrentTime = { _, out in
            out!.pointee = Double(VFSCallbacks.currentTimeMillis()) / 86_400_000.0
            return SQLITE_OK
        }
        v.xGetLastError = { _, _, _ in 0 }
        v.xCurrentTimeInt64 = { _, out in
            out!.pointee = VFSCallbacks.currentTimeMillis()
            return SQLITE_OK
        }
        return v
    }

    /// Milliseconds since the Julian epoch, as SQLite's xCurrentTimeInt64 wants.
    static func currentTimeMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return 24_405_875 * 8_640_000 + Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static let ioMethods: sqlite3_io_methods = {
        var m = sqlite3_io_methods()
        m.iVersion = 2
        m.xClose = { file in
            let dq = UnsafeMutableRawPointer(file!).assumingMemoryBound(to: dqs_file.self)
            let f = Unmanaged<OpenFile>.fromOpaque(dq.pointee.ctx!)
            let vfsObject = f.takeUnretainedValue()
            vfsObject.closed()
            f.release()
            dq.pointee.ctx = nil
            return SQLITE_OK
        }
        m.xRead = { file, buf, amount, offset in
            let f = OpenFile.from(file)
            switch f.kind {
            case .database(let db): return FileIO.read(db, buf!, Int(amount), Int(offset))
            case .wal(let db): return FileIO.read(db.wal, buf!, Int(amount), Int(offset))
            case .memory(let m): return FileIO.read(m, buf!, Int(amount), Int(offset))
            }
        }
        m.xWrite = { file, buf, amount, offset in
            let f = OpenFile.from(file)
            switch f.kind {
            case .database(let db): return FileIO.write(db, buf!, Int(amount), Int(offset))
            case .wal(let db): return FileIO.write(db.wal, buf!, Int(amount), Int(offset))
            case .memory(let m): return FileIO.write(m, buf!, Int(amount), Int(offset))
            }
        }
        m.xTruncate = { file, size in
            let f = OpenFile.from(file)
            switch f.kind {
            case .database(let db): return FileIO.truncate(db, Int(size))
            case .wal(let db):
                // Only a TRUNCATE checkpoint shrinks the WAL, and only to nothing.
                guard size == 0 else { return SQLITE_PROTOCOL }
                db.resetWAL()
                return SQLITE_OK
            case .memory(let m):
                if Int(size) < m.bytes.count { m.bytes.removeLast(m.bytes.count - Int(size)) }
                return SQLITE_OK
            }
        }
        m.xSync = { _, _ in SQLITE_OK }
        m.xFileSize = { file, out in
            let f = OpenFile.from(file)
            switch f.kind {
            case .database(let db): out!.pointee = Int64(db.pages.count * db.pageSize)
            case .wal(let db): out!.pointee = Int64(db.wal.fileSize)
            case .memory(let m): out!.pointee = Int64(m.bytes.count)
            }
            return SQLITE_OK
        }
        // File locks are meaningless with one thread owning every connection; the wal-index locks below do
        // the real work. Reporting a reserved lock keeps SQLite from ever treating a journal as hot.
        m.xLock = { _, _ in SQLITE_OK }
        m.xUnlock = { _, _ in SQLITE_OK }
        m.xCheckReservedLock = { _, out in
            out!.pointee = 1
            return SQLITE_OK
        }
        m.xFileControl = { file, op, arg in
            OpenFile.from(file).fileControl(op, arg)
        }
        m.xSectorSize = { _ in 0 }
        m.xDeviceCharacteristics = { _ in 0 }
        m.xShmMap = { file, region, size, extend, out in
            let f = OpenFile.from(file)
            guard case .database(let db) = f.kind, Int(size) == WALIndex.regionSize else { return SQLITE_IOERR }
            if !f.shmMapped {
                f.shmMapped = true
                db.shm.refcount += 1
            }
            out!.pointee = db.shm.region(Int(region), extend: extend != 0)
            return SQLITE_OK
        }
        m.xShmLock = { file, offset, n, flags in
            guard case .database(let db) = OpenFile.from(file).kind else { return SQLITE_IOERR }
            return db.shmLock(Int(offset), Int(n), flags)
        }
        m.xShmBarrier = { _ in }
        m.xShmUnmap = { file, _ in
            let f = OpenFile.from(file)
            guard case .database(let db) = f.kind, f.shmMapped else { return SQLITE_OK }
            f.shmMapped = false
            db.shm.refcount -= 1
            // Replicating frames are known only to the wal-index SQLite built: keep it while any are in flight.
            if db.shm.refcount == 0 && !db.heldForReplication { db.shm.release() }
            return SQLITE_OK
        }
        return m
    }()
}
