import XCTest
import DqliteWire

final class RoundTripTests: XCTestCase {
    private func split(_ message: [UInt8]) throws -> (MessageHeader, [UInt8]) {
        let header = try MessageHeader.decode(Array(message[0..<8]))
        XCTAssertEqual(header.bodyBytes, message.count - 8, "header word count matches the body")
        XCTAssertEqual(message.count % 8, 0)
        XCTAssertGreaterThan(header.words, 0, "a body is never empty")
        return (header, Array(message[8...]))
    }

    func testEveryRequestRoundTrips() throws {
        XCTAssertEqual(Set(Samples.requests.map(\.type)), Set(RequestType.allCases), "every request type is covered")
        for request in Samples.requests {
            let (header, body) = try split(try request.encoded())
            XCTAssertEqual(header.type, request.type.rawValue)
            XCTAssertEqual(try Request.decode(header: header, body: body), request, "\(request)")
        }
    }

    func testEveryResponseRoundTrips() throws {
        XCTAssertEqual(Set(Samples.responses.map(\.type)), Set(ResponseType.allCases), "every response type is covered")
        for response in Samples.responses {
            let (header, body) = try split(try response.encoded())
            XCTAssertEqual(try Response.decode(header: header, body: body), response, "\(response)")
        }
    }

    func testContextDependentResponsesRoundTrip() throws {
        let v0 = ResponseContext(clusterFormat: .v0)
        let servers = Response.servers(Samples.nodes.map { NodeInfo(id: $0.id, address: $0.address, rawRole: nil) })
        let (h0, b0) = try split(try servers.encoded(context: v0))
        XCTAssertEqual(try Response.decode(header: h0, body: b0, context: v0), servers)

        let legacy = ResponseContext(legacy: true)
        let server = Response.server(id: 0, address: "127.0.0.1:9001")
        let (h1, b1) = try split(try server.encoded(context: legacy))
        XCTAssertEqual(b1.count, 16, "a legacy SERVER reply is the address only")
        XCTAssertEqual(try Response.decode(header: h1, body: b1, context: legacy), server)
    }

    func testEveryValueTypeRoundTripsAsParameterAndRow() throws {
        XCTAssertEqual(Set(Samples.allValues.map(\.type)), Set(ValueType.allCases))
        for v in Samples.allValues {
            for format in [ParamsFormat.count8, .count32] {
                var w = WireWriter()
                try Params.encode([v], format: format, into: &w)
                var r = WireReader(w.bytes)
                XCTAssertEqual(try Params.decode(format: format, from: &r), [v])
                XCTAssertTrue(r.isAtEnd)
            }
            var w = WireWriter()
            RowTuple.encode([v, v, v], into: &w)
            var r = WireReader(w.bytes)
            XCTAssertEqual(try RowTuple.decode(columns: 3, from: &r), [v, v, v])
        }
    }

    func testParameterCountPicksTheSchema() throws {
        let small = Request.execSQL(db: 0, sql: "x", parameters: (0..<255).map { _ in .null })
        let large = Request.execSQL(db: 0, sql: "x", parameters: (0..<256).map { _ in .null })
        XCTAssertEqual(try small.encoded()[5], 0)
        XCTAssertEqual(try large.encoded()[5], 1)
        var w = WireWriter()
        XCTAssertThrowsError(try Params.encode((0..<256).map { _ in .null }, format: .count8, into: &w))
    }

    func testHandshakeWords() throws {
        XCTAssertEqual(ProtocolVersion.v1.encoded, [1, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try ProtocolVersion.decode(ProtocolVersion.v1.encoded), .v1)
        XCTAssertEqual(try ProtocolVersion.decode(ProtocolVersion.legacy.encoded), .legacy)
        XCTAssertThrowsError(try ProtocolVersion.decode([2, 0, 0, 0, 0, 0, 0, 0])) {
            XCTAssertEqual($0 as? WireError, .unknownProtocolVersion(2))
        }
    }
}
