import XCTest
@testable import Checker

/// The report draws each fault from its start to its own stop: stops name their fault and carry the start's id,
/// so overlapping faults of one kind pair correctly and a restart ends the kill it follows.
final class FaultBandTests: XCTestCase {
    func testStopsPairWithTheirStartsById() throws {
        let h = try HistoryParser.parse(text: """
        {"process":0,"type":"invoke","f":"txn","value":[["r",1,null]],"time":0}
        {"nemesis":"start","fault":"kill","detail":{"id":0,"node":1},"time":10}
        {"nemesis":"start","fault":"kill","detail":{"id":1,"node":2},"time":20}
        {"nemesis":"start","fault":"partition","detail":{"id":2,"shape":"isolate"},"time":25}
        {"nemesis":"stop","fault":"kill","detail":{"id":1,"node":2,"restarted":true},"time":30}
        {"nemesis":"stop","fault":"partition","detail":{"id":2,"shape":"isolate"},"time":35}
        {"nemesis":"stop","fault":"kill","detail":{"id":0,"node":1,"restarted":true},"time":40}
        {"process":0,"type":"ok","f":"txn","value":[["r",1,[]]],"time":100}
        """, model: .listAppend)
        let bands = HTMLReport.faultIntervals(h, end: 100).map { "\($0.name) \($0.start)-\($0.stop)" }.sorted()
        XCTAssertEqual(bands, ["kill 10-40", "kill 20-30", "partition 25-35"])
        XCTAssertEqual(HTMLReport.faultID(#"{"id":12,"node":1}"#), 12)
        XCTAssertNil(HTMLReport.faultID(#"{"node":1}"#))
    }
}
