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
        var r = RawReader(buffer: buffer)
        let f = try r.uint64("snapshot format")
        guard f == format else { throw CommandError.unsupported("snapshot format \(f)") }
        let n = try r.uint64("database count")
        guard n <= UInt64(r.remaining / 24) else { throw .malformed("database count \(n) larger than the snapshot") }
        var out: [SnapshotEntry] = []
        for _ in 0..<n {
            let name = try r.text("database name")
            let mainSize = try r.uint64("main size")
            let walSize = try r.uint64("wal size")
            guard mainSize <= UInt64(r.remaining), walSize <= UInt64(r.remaining) - mainSize else {
                throw .malformed("database \(name) larger than the snapshot")
            }
            let start = r.offset, mainEnd = start + Int(mainSize), end = mainEnd + Int(walSize)
            try r.advance(to: end + (8 - (end - start) % 8) % 8, zerosFrom: end, field: "database files")
            out.append(SnapshotEntry(name: name, main: start..<mainEnd, wal: mainEnd..<end))
        }
        guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after the last database") }
        return out
    }
}

/// One database in an encoded snapshot: its name and where its main file and WAL lie.
public struct SnapshotEntry: Sendable, Equatable {
    public let name: String
    public let main: Range<Int>
    public let wal: Range<Int>
}

/// Bounds-checked little-endian reads from a raw buffer (WireReader reads arrays: a snapshot is not copied
/// into one).
private struct RawReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0

    var remaining: Int { buffer.count - offset }

    mutating func uint64(_ field: String) throws(CommandError) -> UInt64 {
        guard remaining >= 8 else { throw .malformed("truncated \(field)") }
        defer { offset += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A NUL-terminated UTF-8 string padded with zeros to a multiple of 8.
    mutating func text(_ field: String) throws(CommandError) -> String {
        guard let nul = buffer[offset...].firstIndex(of: 0) else { throw .malformed("unterminated \(field)") }
        guard let s = String(validating: buffer[offset..<nul], as: UTF8.self) else { throw .malformed("\(field) is not UTF-8") }
        try advance(to: offset + (nul - offset + 1 + 7) / 8 * 8, zerosFrom: nul + 1, field: field)
        return s
    }

    /// Moves to `end`, checking that the bytes from `zerosFrom` to it (padding) are zeros.
    mutating func advance(to end: Int, zerosFrom: Int, field: String) throws(CommandError) {
        guard end <= buffer.count else { throw .malformed("truncated \(field)") }
        for i in zerosFrom..<end where buffer[i] != 0 { throw .malformed("\(field): padding is not zeros") }
        offset = end
    }
}
