import XCTest
@testable import Checker

/// The two verdicts the chaos runner depends on (the full corpus lives beside this file).
final class CheckerSmokeTests: XCTestCase {
    func testHistoryMDExampleIsValidAndALostAppendIsNot() async throws {
        let valid = """
        {"process":0,"type":"invoke","f":"txn","value":[["append",3,1],["r",3,null]],"time":1000}
        {"process":1,"type":"invoke","f":"txn","value":[["r",3,null]],"time":1200}
        {"process":0,"type":"ok","f":"txn","value":[["append",3,1],["r",3,[1]]],"time":5000}
        {"process":1,"type":"ok","f":"txn","value":[["r",3,[]]],"time":5200}
        """
        let r1 = try await Checker.check(try HistoryParser.parse(text: valid))
        XCTAssertEqual(r1.verdict, .valid)
        // An acknowledged append that a later read (begun after it completed) does not see.
        let stale = """
        {"process":0,"type":"invoke","f":"txn","value":[["append",3,1]],"time":1000}
        {"process":0,"type":"ok","f":"txn","value":[["append",3,1]],"time":2000}
        {"process":1,"type":"invoke","f":"txn","value":[["r",3,null]],"time":3000}
        {"process":1,"type":"ok","f":"txn","value":[["r",3,[]]],"time":4000}
        """
        let r2 = try await Checker.check(try HistoryParser.parse(text: stale))
        XCTAssertEqual(r2.verdict, .invalid)
    }
}
