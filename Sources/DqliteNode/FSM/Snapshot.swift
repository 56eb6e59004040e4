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

    /// Decodes `bytes` into copies of every database's files.
    public static func decode(_ bytes: [UInt8]) throws(CommandError) -> [DatabaseFiles] {
        let decoded = bytes.withUnsafeBytes { buffer in
            Result { () throws(CommandError) in
                try layout(buffer).map { DatabaseFiles(name: $0.name, main: Array(buffer[$0.main]), wal: Array(buffer[$0.wal])) }
            }
        }
        return try decoded.get()
    }

    /// Where each database's main file and WAL lie in an encoded snapshot, checked (sizes, padding, the end)
    /// without copying anything: the node restores a snapshot of a big database straight from C-Raft's buffer
    /// (a decode into arrays first had cost four copies of it, and most of a restart's time).
    public static func layout(_ buffer: UnsafeRawBufferPointer) throws(CommandError) -> [SnapshotEntry] {
        do {
            var r = RawWireReader(buffer)
            let f = try r.uint64("snapshot format")
            guard f == format else { throw CommandError.unsupported("snapshot format \(f)") }
            let n = try r.uint64("database count")
            guard n <= UInt64(r.remaining / 24) else { throw CommandError.malformed("database count \(n) larger than the snapshot") }
            var out: [SnapshotEntry] = []
            for _ in 0..<n {
                let name = try r.text("database name")
                let mainSize = try r.uint64("main size")
                let walSize = try r.uint64("wal size")
                guard mainSize <= UInt64(r.remaining), walSize <= UInt64(r.remaining) - mainSize else {
                    throw CommandError.malformed("database \(name) larger than the snapshot")
                }
                let start = r.offset, mainEnd = start + Int(mainSize), end = mainEnd + Int(walSize)
                try r.skipZeros(from: end, to: start + pad8(end - start), field: "database files")
                out.append(SnapshotEntry(name: name, main: start..<mainEnd, wal: mainEnd..<end))
            }
            guard r.remaining == 0 else { throw CommandError.malformed("\(r.remaining) bytes after the last database") }
            return out
        } catch let error as CommandError {
            throw error
        } catch {
            throw .malformed("snapshot: \(error)")
        }
    }
}

/// One database in an encoded snapshot: its name and where its main file and WAL lie.
public struct SnapshotEntry: Sendable, Equatable {
    public let name: String
    public let main: Range<Int>
    public let wal: Range<Int>
}
