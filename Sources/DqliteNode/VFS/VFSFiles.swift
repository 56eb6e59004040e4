import CSQLite

/// Opening, deleting and probing files by name.
extension ReplicatingVFS {
    func open(_ name: String?, _ file: UnsafeMutablePointer<sqlite3_file>, _ flags: Int32,
              _ outFlags: UnsafeMutablePointer<Int32>?) -> Int32 {
        let dq = UnsafeMutableRawPointer(file).assumingMemoryBound(to: dqs_file.self)
        // xClose is only called when pMethods is set, so set it last.
        dq.pointee.base.pMethods = nil
        dq.pointee.ctx = nil
        let create = flags & SQLITE_OPEN_CREATE != 0
        let deleteOnClose = flags & SQLITE_OPEN_DELETEONCLOSE != 0
        let kind: OpenFile.Kind
        var deleteName: String?
        if flags & SQLITE_OPEN_MAIN_DB != 0, let name {
            if databases[name] == nil {
                guard create else { return SQLITE_CANTOPEN }
                databases[name] = makeImage(name)
            }
            let db = databases[name]!
            db.openCount += 1
            kind = .database(db)
        } else if flags & SQLITE_OPEN_WAL != 0, let name {
            guard let db = databases[Self.databaseName(of: name).0] else { return SQLITE_CANTOPEN }
            db.openCount += 1
            kind = .wal(db)
        } else {
            // Journals and temporary files (a NULL name is a temporary file).
            let key = name ?? "temp-\(UInt64.random(in: 0...UInt64.max))"
            if memoryFiles[key] == nil {
                guard create || name == nil else { return SQLITE_CANTOPEN }
                memoryFiles[key] = MemoryFile()
            }
            kind = .memory(memoryFiles[key]!)
            if deleteOnClose || name == nil { deleteName = key }
        }
        let object = OpenFile(kind: kind, deleteOnClose: deleteName, owner: self)
        dq.pointee.ctx = Unmanaged.passRetained(object).toOpaque()
        dq.pointee.base.pMethods = UnsafePointer(ioMethods)
        outFlags?.pointee = flags
        return SQLITE_OK
    }

    func delete(_ name: String) -> Int32 {
        let (db, suffix) = Self.databaseName(of: name)
        if suffix == "-wal" {
            databases[db]?.resetWAL(dropHeader: true)
        } else if memoryFiles.removeValue(forKey: name) == nil, suffix.isEmpty, let image = databases[name], image.openCount == 0 {
            databases.removeValue(forKey: name)
        }
        return SQLITE_OK
    }

    func exists(_ name: String) -> Bool {
        let (db, suffix) = Self.databaseName(of: name)
        switch suffix {
        case "-wal": return databases[db]?.wal.hasContent ?? false
        case "": return databases[name].map { !$0.pages.isEmpty } ?? (memoryFiles[name] != nil)
        default: return memoryFiles[name] != nil
        }
    }
}
