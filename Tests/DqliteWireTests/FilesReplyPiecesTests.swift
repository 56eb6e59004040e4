import XCTest
@testable import DqliteWire

final class FilesReplyPiecesTests: XCTestCase {
    /// Laid end to end, the pieces are the FILES reply's encoding, whatever the chunks and sizes.
    func testThePiecesAreTheEncodedReply() throws {
        let cases: [[(String, [[UInt8]])]] = [
            [],
            [("db", [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10]]), ("db-wal", [])],
            [("a", [[7], [], [8, 9, 10]]), ("longer name, fifteen", [[UInt8](repeating: 3, count: 4096)]), ("c", [[1, 2, 3]])],
        ]
        for files in cases {
            let pieces = try FilesReplyPieces.pieces(files.map { FilesReplyPieces.File(name: $0.0, chunks: $0.1) })
            XCTAssertFalse(pieces.contains { $0.isEmpty })
            let expected = try Response.files(files.map { DumpFile(name: $0.0, content: $0.1.flatMap { $0 }) }).encoded()
            XCTAssertEqual(pieces.flatMap { $0 }, expected, "files \(files.map(\.0))")
        }
    }

    /// A page handed in is handed out as it is, not copied: a DUMP's reply points at the database's pages.
    func testChunksAreHandedOutNotCopied() throws {
        let page = [UInt8](repeating: 5, count: 4096)
        let pieces = try FilesReplyPieces.pieces([FilesReplyPieces.File(name: "db", chunks: [page])])
        let sent = try XCTUnwrap(pieces.first { $0.count == 4096 })
        XCTAssertEqual(sent.withUnsafeBytes { $0.baseAddress }, page.withUnsafeBytes { $0.baseAddress })
    }
}
