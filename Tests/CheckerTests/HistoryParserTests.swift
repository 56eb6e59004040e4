import Checker
import XCTest

/// The parser is strict: a malformed line is an error naming the line and what was wrong.
final class HistoryParserTests: XCTestCase {
    private let invoke = #"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]],"time":1}"#
    private let ok = #"{"process":0,"type":"ok","f":"txn","value":[["append",1,1]],"time":2}"#

    private func error(_ lines: [String], model: Model? = .listAppend) -> HistoryError? {
        do {
            _ = try HistoryParser.parse(text: lines.joined(separator: "\n"), model: model)
            return nil
        } catch {
            return error
        }
    }

    private func assertError(_ lines: [String], line: Int, _ fragment: String, model: Model? = .listAppend,
                             file: StaticString = #filePath, sourceLine: UInt = #line) {
        guard let e = error(lines, model: model) else { return XCTFail("accepted a malformed history", file: file, line: sourceLine) }
        XCTAssertEqual(e.line, line, e.description, file: file, line: sourceLine)
        XCTAssertTrue(e.message.contains(fragment), "\(e.description) lacks \"\(fragment)\"", file: file, line: sourceLine)
    }

    func testMalformedLinesAreReportedWithTheirNumberAndReason() {
        assertError([invoke, #"{"process":0,"type":"ok","#], line: 2, "invalid JSON at column")
        assertError([invoke, ok + " x"], line: 2, "after the JSON value")
        assertError([#"{"process":0,"f":"txn","value":[],"time":1}"#], line: 1, "missing field \"type\"")
        assertError([#"{"process":0,"type":"okay","f":"txn","value":[],"time":1}"#], line: 1, "\"type\" must be")
        assertError([ok], line: 1, "no operation outstanding")
        assertError([invoke, invoke], line: 2, "outstanding")
        assertError([invoke, #"{"process":0,"type":"info","f":"txn","time":2}"#, invoke], line: 3, "after an info")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[],"time":1.5}"#], line: 1, "\"time\" must be an integer, found 1.5")
        assertError([invoke, #"{"process":0,"type":"ok","f":"txn","value":[["append",1,2]],"time":2}"#], line: 2, "differs from its invoke")
        assertError([#"{"process":0,"process":1,"type":"invoke","f":"txn","value":[],"time":1}"#], line: 1, "appears twice")
        assertError([invoke, #"{"history":1}"#], line: 2, "first line")
        assertError([#"{"history":2}"#], line: 1, "unsupported history format version 2")
        assertError([#"{"process":99999999999999999999,"type":"invoke","f":"txn","value":[],"time":1}"#], line: 1, "64-bit range")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,01]],"time":1}"#], line: 1, "leading zero")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[["append",1]],"time":1}"#], line: 1, "three items")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[["write",1,1]],"time":1}"#], line: 1, "\"append\" or \"r\"")
        assertError([#"{"process":0,"type":"invoke","f":"add","value":1,"time":1}"#], line: 1, "not an operation of the list-append model")
        assertError([#"{"process":-1,"type":"invoke","f":"txn","value":[],"time":1}"#], line: 1, "≥ 0")
        assertError([#"{"process":0,"type":"invoke","f":"read","value":null,"time":1}"#, #"{"process":0,"type":"ok","f":"read","value":"x","time":2}"#],
                    line: 2, "must be an integer", model: .register)
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[],"time":5}"#, #"{"process":0,"type":"ok","f":"txn","value":[],"time":4}"#],
                    line: 2, "before its invoke")
        assertError([#"{"nemesis":"begin","time":1}"#], line: 1, "\"nemesis\" must be")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[],"time":1,"index":5}"#, #"{"process":0,"type":"ok","f":"txn","value":[],"time":2,"index":5}"#],
                    line: 2, "does not increase")
        assertError([#"["not","an","object"]"#], line: 1, "must be a JSON object")
        assertError([#"{"process":0,"type":"invoke","f":"txn","value":[],"time":1,"node":"\ud800"}"#], line: 1, "surrogate")
    }

    func testAnElementAppendedTwiceBreaksTheContractAndIsAnInputError() async {
        let text = [invoke, ok, #"{"process":1,"type":"invoke","f":"txn","value":[["append",1,1]],"time":3}"#].joined(separator: "\n")
        do {
            let h = try HistoryParser.parse(text: text)
            _ = try await Checker.check(h)
            XCTFail("accepted a duplicated append")
        } catch let e as HistoryError {
            XCTAssertEqual(e.line, 3)
            XCTAssertTrue(e.message.contains("appended to key 1 again (first on line 1)"), e.message)
        } catch {
            XCTFail("\(error)")
        }
    }

    func testEventsFaultsMetadataAndUnfinishedInvocations() throws {
        let text = """
        {"history":1,"model":"list-append","seed":42,"scenario":"partition"}

        {"process":0,"type":"invoke","f":"txn","value":[["append",1,1],["r",1,null]],"time":10,"node":"n1"}
        {"nemesis":"start","fault":"partition","detail":{"groups":[[1],[2,3]]},"time":11}
        {"process":1,"type":"invoke","f":"txn","value":[["r",1,null]],"time":12}
        {"process":0,"type":"ok","f":"txn","value":[["append",1,1],["r",1,[1]]],"time":13}
        {"process":1,"type":"ok","f":"txn","value":[["r",1,null]],"time":14,"error":"caf\\u00e9"}
        {"nemesis":"stop","fault":"partition","time":15}
        {"process":2,"type":"invoke","f":"txn","value":[["append",1,2]],"time":16}
        """
        let h = try HistoryParser.parse(text: text)
        XCTAssertEqual(h.model, .listAppend)
        XCTAssertEqual(h.metadata.map(\.key), ["history", "model", "seed", "scenario"])
        XCTAssertEqual(h.operations.count, 3)
        XCTAssertEqual(h.operations.map(\.outcome), [.ok, .ok, .info], "an invoke without completion is an info")
        XCTAssertEqual(h.operations[2].completeIndex, Int64.max)
        XCTAssertEqual(h.faults.count, 2)
        XCTAssertEqual(h.faults[0].fault, "partition")
        XCTAssertEqual(h.faults[0].detail, #"{"groups":[[1],[2,3]]}"#)
        XCTAssertEqual(h.faults[0].line, 4)
        XCTAssertEqual(Array(h.list(h.mops[1])), [1])
        XCTAssertEqual(h.mops[2].listCount, 0, "a null read in an ok is the empty list")
        XCTAssertEqual(h.annotations[0]?.node, "n1")
        XCTAssertEqual(h.annotations[1]?.error, "café")
        XCTAssertEqual(h.operations[0].invokeLine, 3)
        XCTAssertEqual(h.operations[0].completeLine, 6)
    }

    func testTheModelIsInferredFromMetadataOrOperations() throws {
        func model(_ lines: [String]) throws -> Model { try HistoryParser.parse(text: lines.joined(separator: "\n")).model }
        XCTAssertEqual(try model([invoke]), .listAppend)
        XCTAssertEqual(try model([#"{"process":0,"type":"invoke","f":"add","value":1,"time":1}"#]), .set)
        XCTAssertEqual(try model([#"{"process":0,"type":"invoke","f":"read","value":null,"time":1}"#, #"{"process":0,"type":"ok","f":"read","value":[1],"time":2}"#]), .set)
        XCTAssertEqual(try model([#"{"process":0,"type":"invoke","f":"write","value":1,"time":1}"#]), .register)
        XCTAssertEqual(try model([#"{"process":0,"type":"invoke","f":"write","value":1,"time":1}"#, #"{"process":1,"type":"invoke","f":"cas","value":[1,2],"time":2}"#]), .casRegister)
        XCTAssertEqual(try model([#"{"history":1,"model":"cas-register"}"#, #"{"process":0,"type":"invoke","f":"write","value":1,"time":1}"#]), .casRegister)
        XCTAssertThrowsError(try model([#"{"process":0,"type":"invoke","f":"read","value":null,"time":1}"#]))
        XCTAssertThrowsError(try model([#"{"history":1,"model":"queue"}"#]))
    }
}
