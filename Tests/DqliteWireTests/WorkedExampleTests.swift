import XCTest
import DqliteWire

/// Byte-exact checks against the worked examples of reference/dqlite.md §1.11 and the layout rules of §1.3-§1.7.
final class WorkedExampleTests: XCTestCase {
    private func text(_ s: String, size: Int) -> [UInt8] {
        Array(s.utf8) + Array(repeating: 0, count: size - s.utf8.count)
    }

    func testLeaderRequest() throws {
        XCTAssertEqual(try Request.leader.encoded(), [1, 0, 0, 0, 0, 0, 0, 0] + Array(repeating: 0, count: 8))
    }

    func testLeaderReply() throws {
        let id: UInt64 = 0x2dc1_7185_8c31_55be
        var idBytes = [UInt8]()
        withUnsafeBytes(of: id.littleEndian) { idBytes.append(contentsOf: $0) }
        let expected: [UInt8] = [3, 0, 0, 0, 1, 0, 0, 0] + idBytes + text("127.0.0.1:9001", size: 16)
        XCTAssertEqual(try Response.server(id: id, address: "127.0.0.1:9001").encoded(), expected)
        let header = try MessageHeader.decode(Array(expected[0..<8]))
        XCTAssertEqual(try Response.decode(header: header, body: Array(expected[8...])), .server(id: id, address: "127.0.0.1:9001"))
    }

    func testExecSQLWithTwoParameters() throws {
        let sql = "INSERT INTO t VALUES(?,?)"
        let body: [UInt8] = Array(repeating: 0, count: 8) + text(sql, size: 32)
            + [2, 1, 3, 0, 0, 0, 0, 0] + [0x2A, 0, 0, 0, 0, 0, 0, 0] + text("x", size: 8)
        let expected: [UInt8] = [UInt8(body.count / 8), 0, 0, 0, 8, 0, 0, 0] + body
        XCTAssertEqual(try Request.execSQL(db: 0, sql: sql, parameters: [.integer(42), .text("x")]).encoded(), expected)
    }

    func testRowsForSelectOneA() throws {
        let body: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0] + text("1", size: 8) + text("'a'", size: 8)
            + [0x31, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0] + text("a", size: 8) + Array(repeating: 0xFF, count: 8)
        XCTAssertEqual(body.count, 7 * 8, "seven words")
        let batch = RowsBatch(columns: ["1", "'a'"], rows: [[.integer(1), .text("a")]], isLast: true)
        XCTAssertEqual(try Response.rows(batch).encoded(), [7, 0, 0, 0, 7, 0, 0, 0] + body)
        XCTAssertEqual(try Response.decode(header: MessageHeader(words: 7, type: 7), body: body), .rows(batch))
    }

    func testTextPadding() {
        for (s, size) in [("", 8), ("1234567", 8), ("12345678", 16)] {
            var w = WireWriter()
            w.text(s)
            XCTAssertEqual(w.bytes, text(s, size: size))
        }
    }

    func testParamsTuple32Layout() throws {
        var w = WireWriter()
        try Params.encode([.integer(1), .null], format: .count32, into: &w)
        // u32 count 2, two type bytes, padded to pad8(2 + 4) = 8.
        XCTAssertEqual(Array(w.bytes[0..<8]), [2, 0, 0, 0, 1, 5, 0, 0])
        XCTAssertEqual(w.bytes.count, 24)
    }

    func testRowHeaderNibbles() {
        var w = WireWriter()
        RowTuple.encode([.integer(1), .float(2), .text("t")], into: &w)
        // Column 0 (integer=1) low, column 1 (float=2) high; column 2 (text=3) low of the next byte.
        XCTAssertEqual(Array(w.bytes[0..<8]), [0x21, 0x03, 0, 0, 0, 0, 0, 0])
    }

    func testPartMarkerAndMultipleBatches() throws {
        let part = try Response.rows(RowsBatch(columns: ["a"], rows: [[.integer(1)]], isLast: false)).encoded()
        XCTAssertEqual(Array(part.suffix(8)), Array(repeating: 0xEE, count: 8))
    }

    func testFailureLayout() throws {
        let bytes = try Response.failure(code: ErrorCode.notLeader, message: "not leader").encoded()
        XCTAssertEqual(Array(bytes[8..<16]), [0x0A, 0x28, 0, 0, 0, 0, 0, 0], "10250 little-endian")
        XCTAssertEqual(ErrorCode.notLeader, 10250)
        XCTAssertEqual(ErrorCode.leadershipLost, 10506)
    }

    func testTypedErrors() {
        func decode(_ type: UInt8, _ body: [UInt8], schema: UInt8 = 0) -> WireError? {
            do {
                _ = try Response.decode(header: MessageHeader(words: UInt32(body.count / 8), type: type, schema: schema), body: body)
                return nil
            } catch { return error }
        }
        XCTAssertEqual(decode(0, [1, 0, 0, 0, 0, 0, 0, 0]), .unterminatedText(field: "failure message"))
        XCTAssertEqual(decode(0, [1, 0, 0, 0, 0, 0, 0, 0, 65, 0, 1, 0, 0, 0, 0, 0]), .badPadding(field: "failure message"))
        XCTAssertEqual(decode(99, []), .unknownMessageType(99))
        XCTAssertEqual(decode(6, [0, 0, 0, 0, 0, 0, 0, 0]), .truncated(field: "rows affected"))
        XCTAssertEqual(decode(8, [0, 0, 0, 0, 0, 0, 0, 0], schema: 3), .unsupportedSchema(type: 8, schema: 3))
        XCTAssertEqual(decode(8, Array(repeating: 0, count: 16)), .trailingBytes(count: 8))
        XCTAssertEqual(decode(3, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), .countTooLarge(field: "servers count", count: 0x0FFF_FFFF_FFFF_FFFF))
        XCTAssertEqual(decode(7, [1, 0, 0, 0, 0, 0, 0, 0, 97, 0, 0, 0, 0, 0, 0, 0] + [0xEE, 0xEE, 0, 0, 0, 0, 0, 0]), .badRowsMarker(0xEEEE))
        XCTAssertEqual(decode(7, [1, 0, 0, 0, 0, 0, 0, 0, 97, 0, 0, 0, 0, 0, 0, 0] + [0x07, 0, 0, 0, 0, 0, 0, 0]), .unknownValueType(7))
        XCTAssertThrowsError(try MessageHeader.decode([0xFF, 0xFF, 0xFF, 0xFF, 7, 0, 0, 0])) {
            XCTAssertEqual($0 as? WireError, .oversized(bytes: 0xFFFF_FFFF * 8, limit: WireLimits.defaultMaxMessageBytes))
        }
    }
}
