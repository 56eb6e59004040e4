import DqliteWire

/// The FSM snapshot: every database's main file and WAL (reference/dqlite.md §2.7):
/// `{u64 format=1, u64 n}` then per database `{text name, u64 main_size, u64 wal_size}`, the main bytes and
/// the WAL bytes.
public struct DatabaseFiles: Sendable, Equatable {
    public var name: String
    public var main: [UInt8]
    public var wal: [UInt8]

    public init(name: String, main: [UInt8], wal: [UInt8]) {
        self.name = name
        self.main = main
        self.wal = wal
    }
}

public enum SnapshotFormat {
    static let format: UInt64 = 1

    public static func encode(_ databases: [DatabaseFiles]) -> [UInt8] {
        var w = WireWriter(capacity: 16 + databases.reduce(0) { $0 + 64 + $1.main.count + $1.wal.count })
        w.uint64(format)
        w.uint64(UInt64(databases.count))
        for d in databases {
            w.text(d.name)
            w.uint64(UInt64(d.main.count))
            w.uint64(UInt64(d.wal.count))
            let start = w.count
            w.raw(d.main)
            w.raw(d.wal)
            w.padTo8(from: start)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(CommandError) -> [DatabaseFiles] {
        do {
            var r = WireReader(bytes)
            let f = try r.uint64("snapshot format")
            guard f == format else { throw CommandError.unsupported("snapshot format \(f)") }
            let n = try r.uint64("database count")
            try r.checkCount(n, minSize: 24, field: "database count")
            var out: [DatabaseFiles] = []
            for _ in 0..<n {
                let name = try r.text("database name")
                let mainSize = try r.uint64("main size")
                let walSize = try r.uint64("wal size")
                guard mainSize <= UInt64(r.remaining), walSize <= UInt64(r.remaining) - mainSize else {
                    throw CommandError.malformed("database \(name) larger than the snapshot")
                }
                let both = try r.rawPadded(length: mainSize + walSize, field: "database files")
                out.append(DatabaseFiles(name: name, main: Array(both[0..<Int(mainSize)]), wal: Array(both[Int(mainSize)...])))
            }
            try r.expectEnd()
            return out
        } catch let e as CommandError {
            throw e
        } catch {
            throw .malformed("\(error)")
        }
    }
}
