#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// dqlite's replicating VFS: databases live in memory; a write transaction's WAL frames are captured and kept
/// invisible until `apply` appends them (on every node, the leader included) once Raft has committed them.
///
/// Everything happens on one thread (the node's loop thread, or a test's): SQLite calls the VFS from inside
/// `sqlite3_*` calls on that thread, and the replication API must be called from it too.
public final class ReplicatingVFS {
    public let name: String
    var databases: [String: DatabaseImage] = [:]
    var memoryFiles: [String: MemoryFile] = [:]
    /// Told the name of a database whose write lock was just released.
    public var onWriteLockReleased: ((String) -> Void)?

    /// Creates the image of a new database, wired to `onWriteLockReleased`.
    func makeImage(_ name: String) -> DatabaseImage {
        let db = DatabaseImage(name: name)
        db.onWriteLockReleased = { [unowned self] in self.onWriteLockReleased?(name) }
        return db
    }

    /// The WAL size (frames) at which the node wants to checkpoint (see `beginSpeculation`).
    public var checkpointFrames = Int.max

    /// How often SQLite slept waiting for a lock (see xSleep).
    public internal(set) var sleeps = 0
    private let vfs: UnsafeMutablePointer<sqlite3_vfs>
    let ioMethods: UnsafeMutablePointer<sqlite3_io_methods>
    private let zName: UnsafeMutablePointer<CChar>

    /// Registers a VFS called `name` with SQLite (not as the default).
    public init(name: String) throws(VFSError) {
        self.name = name
        zName = strdup(name)
        ioMethods = .allocate(capacity: 1)
        ioMethods.initialize(to: VFSCallbacks.ioMethods)
        vfs = .allocate(capacity: 1)
        vfs.initialize(to: VFSCallbacks.vfs(name: zName, szOsFile: Int32(MemoryLayout<dqs_file>.size)))
        vfs.pointee.pAppData = Unmanaged.passUnretained(self).toOpaque()
        let rc = sqlite3_vfs_register(vfs, 0)
        guard rc == SQLITE_OK else {
            free(zName)
            vfs.deallocate()
            ioMethods.deallocate()
            throw .sqlite(rc, "cannot register VFS \(name)")
        }
    }

    deinit {
        sqlite3_vfs_unregister(vfs)
        vfs.deallocate()
        ioMethods.deallocate()
        free(zName)
    }

    static func from(_ vfs: UnsafeMutablePointer<sqlite3_vfs>?) -> ReplicatingVFS {
        Unmanaged<ReplicatingVFS>.fromOpaque(vfs!.pointee.pAppData).takeUnretainedValue()
    }

    /// The database an open, WAL or journal name refers to ("x", "x-wal", "x-journal" → "x").
    static func databaseName(of file: String) -> (String, suffix: String) {
        for suffix in ["-wal", "-journal"] where file.hasSuffix(suffix) {
            return (String(file.dropLast(suffix.count)), suffix)
        }
        return (file, "")
    }

    /// Names of the databases that exist in this VFS.
    public var databaseNames: [String] { databases.keys.sorted() }
}

public enum VFSError: Error, Equatable, CustomStringConvertible {
    case sqlite(Int32, String)
    case noSuchDatabase(String)
    case malformed(String)
    case busy(String)

    public var description: String {
        switch self {
        case let .sqlite(rc, m): "\(m) (SQLite code \(rc))"
        case .noSuchDatabase(let n): "no database named \(n)"
        case .malformed(let m): m
        case .busy(let m): "busy: \(m)"
        }
    }
}
