import Checker
import Foundation
import XCTest

/// Every history in Corpus/ carries its expected verdict and anomaly classes in its metadata line
/// (`expect`, `anomalies`, optional `consistency`); the checker must give exactly those.
final class CorpusTests: XCTestCase {
    func testEveryCorpusHistoryGetsItsExpectedVerdictAndClasses() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Support.corpusDirectory.path)
            .filter { $0.hasSuffix(".jsonl") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 35)
        var seen = Set<String>()
        for file in files {
            let path = Support.corpusDirectory.appendingPathComponent(file).path
            let firstLine = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")[0]
            let meta = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(firstLine.utf8)) as? [String: Any], file)
            let expected = try XCTUnwrap(meta["expect"] as? String, file)
            let classes = try XCTUnwrap(meta["anomalies"] as? [String], file)
            let consistency = (meta["consistency"] as? String).flatMap(Consistency.init(rawValue:))
            var options = CheckOptions(consistency: consistency)
            options.timeLimit = .seconds(30)
            let (_, result) = try await Checker.check(path: path, options: options)
            XCTAssertEqual(result.verdict.rawValue, expected, "\(file): \(result.anomalyTypes)")
            XCTAssertEqual(Set(result.anomalyTypes), Set(classes), file)
            XCTAssertFalse(result.anomalies.contains { $0.explanation.isEmpty }, "\(file): every anomaly is explained")
            seen.formUnion(result.anomalyTypes)
        }
        // At least one history per class the issue names.
        for required in ["G0", "G1a", "G1b", "G1c", "G-single", "G2-item", "internal", "duplicate-elements",
                         "incompatible-order", "lost-update", "garbage-read", "G0-realtime", "G1c-realtime",
                         "G-single-realtime", "G-single-process", "lost", "stale-read", "unexpected", "duplicate",
                         "nonlinearizable"] {
            XCTAssertTrue(seen.contains(required), "no corpus history shows \(required)")
        }
    }

    func testCycleExplanationsNameEachEdgeAndItsReason() async throws {
        let path = Support.corpusDirectory.appendingPathComponent("la-g-single-read-skew.jsonl").path
        let (h, result) = try await Checker.check(path: path)
        let anomaly = try XCTUnwrap(result.anomalies.first)
        XCTAssertEqual(anomaly.cycle.map(\.edge).sorted(), ["rw", "wr"])
        let text = anomaly.explanation.joined(separator: "\n")
        XCTAssertTrue(text.contains("read key 2 as [1], and its last element 1 was appended by \(h.name(anomaly.cycle[0].from))")
                      || text.contains("read key 2 as [1], and its last element 1 was appended by"), text)
        XCTAssertTrue(text.contains("read key 1 as [], which does not include 1"), text)
        XCTAssertTrue(text.contains("a contradiction"), text)
    }
}
