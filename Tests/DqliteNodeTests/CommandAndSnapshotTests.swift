import XCTest
import CRaft
import CSQLite
@testable import DqliteNode

final class CommandAndSnapshotTests: XCTestCase {
    func testCommandsRoundTrip() throws {
        let pages = CapturedPages(pageSize: 512, pageNumbers: [1, 7, 3], pages: (0..<1536).map { UInt8($0 & 0xFF) })
        for c in [Command.open(database: "demo"), .frames(database: "demo", pages: pages), .undo(transactionID: 9), .checkpoint(database: "x")] {
            XCTAssertEqual(try Command.decode(try c.encoded()), c)
        }
    }

    func testFramesLayoutMatchesDqlite() throws {
        let bytes = try Command.frames(database: "db", pages: CapturedPages(pageSize: 512, pageNumbers: [2], pages: [UInt8](repeating: 9, count: 512))).encoded()
        XCTAssertEqual(Array(bytes[0..<8]), [1, 2, 0, 0, 0, 0, 0, 0], "format 1, type FRAMES")
        XCTAssertEqual(Array(bytes[8..<16]), Array("db".utf8) + [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(bytes[28], 1, "is_commit")
        XCTAssertEqual(Array(bytes[32..<40]), [1, 0, 0, 0, 0, 2, 0, 0], "n_pages 1, page_size 512")
        XCTAssertEqual(Array(bytes[40..<48]), [2, 0, 0, 0, 0, 0, 0, 0], "page number 2")
        XCTAssertEqual(bytes.count, 48 + 512)
    }

    func testBadCommandsAreTypedErrors() {
        XCTAssertThrowsError(try Command.decode([]))
        XCTAssertThrowsError(try Command.decode([2, 1, 0, 0, 0, 0, 0, 0]))  // format 2
        XCTAssertThrowsError(try Command.decode([1, 9, 0, 0, 0, 0, 0, 0]))  // type 9
        var frames = try! Command.frames(database: "d", pages: CapturedPages(pageSize: 512, pageNumbers: [1], pages: [UInt8](repeating: 0, count: 512))).encoded()
        frames[33] = 0xFF  // page count (bytes 32..35) far beyond the bytes
        XCTAssertThrowsError(try Command.decode(frames))
        XCTAssertThrowsError(try Command.frames(database: "d", pages: CapturedPages(pageSize: 65536, pageNumbers: [1], pages: [UInt8](repeating: 0, count: 65536))).encoded())
    }

    /// Compressible pages (half-empty b-tree pages, repeated values) go to the log as LZ4 FRAMES of our
    /// type 130; pages LZ4 cannot shrink, and every other command, keep C dqlite's bytes. Both decode.
    func testFramesAreCompressedOnlyWhenThatMakesThemSmaller() throws {
        var text = [UInt8](repeating: 0, count: 4096)
        for i in 0..<1000 { text[i] = UInt8(ascii: "a") + UInt8(i % 7) }
        let compressible = Command.frames(database: "demo", pages: CapturedPages(pageSize: 4096, pageNumbers: [3, 9], pages: text + text, commitSize: 12))
        let packed = try compressible.encoded(compressed: true)
        XCTAssertEqual(Array(packed[0..<8]), [1, 130, 0, 0, 0, 0, 0, 0], "format 1, type FRAMES_LZ4")
        let plain = try compressible.encoded()
        XCTAssertEqual(Array(packed[8..<12]), withUnsafeBytes(of: UInt32(plain.count - 8).littleEndian, Array.init), "uncompressed body size")
        XCTAssertEqual(packed.count % 8, 0, "C-Raft's segments need entries of whole 8-byte words")
        XCTAssertLessThan(packed.count, plain.count / 4)
        XCTAssertEqual(try Command.decode(packed), compressible)
        XCTAssertEqual(try compressible.encoded(compressed: false), plain, "off: C dqlite's bytes")

        var rng = SystemRandomNumberGenerator()
        let noise = Command.frames(database: "demo", pages: CapturedPages(pageSize: 4096, pageNumbers: [5], pages: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        XCTAssertEqual(try noise.encoded(compressed: true), try noise.encoded(), "incompressible pages stay plain")
        for c in [Command.open(database: "demo"), .undo(transactionID: 9), .checkpoint(database: "x")] {
            XCTAssertEqual(try c.encoded(compressed: true), try c.encoded())
        }
    }

    /// A damaged compressed entry is a typed error: a size claim beyond what LZ4 can expand to (so no huge
    /// allocation), a truncated or altered block, a block that decodes to something else than FRAMES.
    func testDamagedCompressedFramesAreTypedErrors() throws {
        let text = [UInt8](repeating: UInt8(ascii: "q"), count: 4096)
        let packed = try Command.frames(database: "demo", pages: CapturedPages(pageSize: 4096, pageNumbers: [1], pages: text)).encoded(compressed: true)
        XCTAssertEqual(packed[1], 130)
        var huge = packed
        huge.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0x7F])
        XCTAssertThrowsError(try Command.decode(huge)) { XCTAssertTrue("\($0)".contains("claiming"), "\($0)") }
        var wrongSize = packed
        wrongSize[8] &+= 1
        XCTAssertThrowsError(try Command.decode(wrongSize))
        XCTAssertThrowsError(try Command.decode(Array(packed.dropLast(3))))
        XCTAssertThrowsError(try Command.decode(Array(packed.prefix(16))))
        XCTAssertThrowsError(try Command.decode(packed + [0, 0, 0, 0, 0, 0, 0, 0]), "more than the padding")
        var blockTooLong = packed
        blockTooLong[12] &+= 8
        XCTAssertThrowsError(try Command.decode(blockTooLong))
        for at in 16..<packed.count {
            var flipped = packed
            flipped[at] ^= 0x5A
            // Either rejected, or (a literal byte changed) a FRAMES command all the same: never a crash.
            if let c = try? Command.decode(flipped), case .frames = c {} else if (try? Command.decode(flipped)) != nil { XCTFail("byte \(at)") }
        }
    }

    func testSnapshotRestoresIntoAFreshVFSAndUnderOpenConnections() async throws {
        let source = try ReplicatingVFS(name: "snap-src-\(UInt32.random(in: 0...UInt32.max))")
        let a = try TestConnection(source, "db")
        for sql in ["CREATE TABLE t (n INTEGER, s TEXT)"] + (0..<100).map({ "INSERT INTO t VALUES (\($0), hex(randomblob(20)))" }) {
            try source.apply(database: "db", try XCTUnwrap(try a.write(sql)))
        }
        XCTAssertEqual(try a.rows("PRAGMA wal_checkpoint(TRUNCATE)"), [["0", "0", "0"]])
        for n in 100..<110 { try source.apply(database: "db", try XCTUnwrap(try a.write("INSERT INTO t VALUES (\(n), 'wal')"))) }
        let expected = try a.rows("SELECT n, s FROM t ORDER BY n")

        let bytes = SnapshotFormat.encode(try source.snapshot())
        let files = try SnapshotFormat.decode(bytes)
        XCTAssertEqual(files.map(\.name), ["db"])
        XCTAssertFalse(files[0].wal.isEmpty, "the snapshot carries WAL frames too")

        let fresh = try ReplicatingVFS(name: "snap-dst-\(UInt32.random(in: 0...UInt32.max))")
        try fresh.restore(files)
        let b = try TestConnection(fresh, "db")
        XCTAssertEqual(try b.rows("SELECT n, s FROM t ORDER BY n"), expected)
        XCTAssertEqual(try b.rows("PRAGMA integrity_check"), [["ok"]])

        // A node whose connection is open and has read older contents sees the restored ones.
        let behind = try ReplicatingVFS(name: "snap-old-\(UInt32.random(in: 0...UInt32.max))")
        let c = try TestConnection(behind, "db")
        try behind.apply(database: "db", try XCTUnwrap(try c.write("CREATE TABLE t (n INTEGER, s TEXT)")))
        try behind.apply(database: "db", try XCTUnwrap(try c.write("INSERT INTO t VALUES (-1, 'old')")))
        XCTAssertEqual(try c.int("SELECT count(*) FROM t"), 1)
        try behind.restore(files)
        XCTAssertEqual(try c.rows("SELECT n, s FROM t ORDER BY n"), expected)

        // The buffers C-Raft is handed point at the pages of a view taken now: laid end to end, on another
        // thread, they are the encoding's bytes even after the VFS moved on (more commits, a checkpoint that
        // rewrites the main file's pages).
        let (buffers, array) = try XCTUnwrap(SnapshotBuffers.make(source.snapshotView()))
        defer { raft_free(array) }
        for n in 110..<140 { try source.apply(database: "db", try XCTUnwrap(try a.write("INSERT INTO t VALUES (\(n), 'later')"))) }
        XCTAssertEqual(try a.rows("PRAGMA wal_checkpoint(TRUNCATE)"), [["0", "0", "0"]])
        let address = UInt(bitPattern: array)
        let laidOut = await Task.detached { () -> [UInt8] in
            let array = UnsafeMutablePointer<raft_buffer>(bitPattern: address)!
            var laidOut = [UInt8]()
            for i in 0..<buffers.count { laidOut += UnsafeRawBufferPointer(start: array[i].base, count: array[i].len) }
            return laidOut
        }.value
        XCTAssertEqual(laidOut, bytes)
        XCTAssertEqual(buffers.bytes, bytes.count)
        XCTAssertNotEqual(SnapshotFormat.encode(try source.snapshot()), bytes, "the VFS itself did move on")
        try source.restore(files)

        // A snapshot taken while a transaction replicates holds the committed state only (the transaction
        // comes after the snapshot's index in the log); garbage never replaces a database.
        XCTAssertNotNil(try a.write("INSERT INTO t VALUES (999, 'x')"))
        XCTAssertEqual(try source.snapshot(), files)
        source.abort(database: "db")
        XCTAssertThrowsError(try fresh.restore([DatabaseFiles(name: "db", main: [1, 2, 3], wal: [])]))
        XCTAssertEqual(try b.int("SELECT count(*) FROM t"), 110)
        XCTAssertThrowsError(try SnapshotFormat.decode(Array(bytes.prefix(40))))
    }

    /// The layout the node restores from in place finds each file where the encoding put it, and refuses
    /// what a decode would: a truncated snapshot, bytes after the end, padding that is not zeros.
    func testTheLayoutOfAnEncodedSnapshotIsCheckedWithoutCopyingIt() throws {
        let files = [DatabaseFiles(name: "a", main: [UInt8](repeating: 7, count: 13), wal: [1, 2, 3, 4]),  // 17 bytes: 7 of padding
                     DatabaseFiles(name: "longer name", main: [], wal: [9])]
        let bytes = SnapshotFormat.encode(files)
        func layout(_ b: [UInt8]) throws -> [SnapshotEntry] {
            try b.withUnsafeBytes { buffer in try SnapshotFormat.layout(buffer) }
        }
        let entries = try layout(bytes)
        XCTAssertEqual(entries.map(\.name), ["a", "longer name"])
        XCTAssertEqual(entries.map { Array(bytes[$0.main]) }, files.map(\.main))
        XCTAssertEqual(entries.map { Array(bytes[$0.wal]) }, files.map(\.wal))
        XCTAssertEqual(try SnapshotFormat.decode(bytes), files)
        XCTAssertThrowsError(try layout(Array(bytes.dropLast(8))))
        XCTAssertThrowsError(try layout(bytes + [0, 0, 0, 0, 0, 0, 0, 0]))
        var badPadding = bytes
        badPadding[entries[0].wal.upperBound] = 1
        XCTAssertThrowsError(try layout(badPadding))
        var badCount = bytes
        badCount[8] = 200
        XCTAssertThrowsError(try layout(badCount))
    }
}

extension ReplicatingVFS {
    /// Every database's main file and committed WAL, copied (the node hands C-Raft a `snapshotView()`).
    func snapshot() throws(VFSError) -> [DatabaseFiles] {
        databaseNames.compactMap { files(of: $0) }
    }

    /// One database's main file and committed WAL, copied; nil if there is no such database.
    func files(of name: String) -> DatabaseFiles? {
        guard let dump = dumpFiles(of: name) else { return nil }
        return DatabaseFiles(name: name, main: dump[0].chunks.flatMap { $0 }, wal: dump[1].chunks.flatMap { $0 })
    }

    /// Replaces the named databases with `files`, through their encoding (the node only restores encodings,
    /// straight from C-Raft's buffer).
    func restore(_ files: [DatabaseFiles]) throws(VFSError) {
        let result = SnapshotFormat.encode(files).withUnsafeBytes { buffer in Result { () throws(VFSError) in try restore(snapshot: buffer) } }
        try result.get()
    }
}
