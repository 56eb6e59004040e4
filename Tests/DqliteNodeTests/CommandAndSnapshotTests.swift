import XCTest
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
        // The one-pass writer the FSM uses encodes exactly the same bytes.
        let size = source.encodedSnapshotSize()
        let direct = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { direct.deallocate() }
        source.writeSnapshot(into: direct, size: size)
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: direct, count: size)), bytes)
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

        // A view taken now keeps encoding these bytes, on another thread, while the VFS moves on (more
        // commits, a checkpoint that rewrites the main file's pages).
        let view = source.snapshotView()
        for n in 110..<140 { try source.apply(database: "db", try XCTUnwrap(try a.write("INSERT INTO t VALUES (\(n), 'later')"))) }
        XCTAssertEqual(try a.rows("PRAGMA wal_checkpoint(TRUNCATE)"), [["0", "0", "0"]])
        let encodedElsewhere = await Task.detached { () -> [UInt8] in
            let out = UnsafeMutableRawPointer.allocate(byteCount: view.encodedSize, alignment: 8)
            defer { out.deallocate() }
            view.write(into: out, size: view.encodedSize)
            return Array(UnsafeRawBufferPointer(start: out, count: view.encodedSize))
        }.value
        XCTAssertEqual(encodedElsewhere, bytes)
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
}
