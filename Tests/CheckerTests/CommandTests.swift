import Checker
import Foundation
import XCTest

/// The built `dqlite-chaos check`: exit statuses CI gates on, JSON and HTML output.
final class CommandTests: XCTestCase {
    private func corpus(_ name: String) -> String { Support.corpusDirectory.appendingPathComponent(name + ".jsonl").path }

    func testExitStatusSaysValidInvalidUnknownOrBadInput() throws {
        XCTAssertEqual(try Support.run(["check", corpus("la-valid-history-md-example")]).status, 0)
        let invalid = try Support.run(["check", corpus("la-g0")])
        XCTAssertEqual(invalid.status, 1)
        XCTAssertTrue(invalid.stdout.hasPrefix("INVALID"), invalid.stdout)
        XCTAssertTrue(invalid.stdout.contains("G0"), invalid.stdout)
        XCTAssertEqual(try Support.run(["check", corpus("la-g2-item-write-skew"), "--consistency", "snapshot-isolation"]).status, 0)
        XCTAssertEqual(try Support.run(["check", corpus("set-lost")]).status, 1)
        XCTAssertEqual(try Support.run(["check", corpus("reg-stale-read"), "--model", "register"]).status, 1)

        let bad = try Support.temporaryFile("bad.jsonl", "{\"process\":0,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[],\"time\":1}\n{\"process\":0,\"type\":\"ok\",\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let malformed = try Support.run(["check", bad])
        XCTAssertEqual(malformed.status, 65)
        XCTAssertTrue(malformed.stderr.contains("line 2: invalid JSON"), malformed.stderr)
        XCTAssertEqual(try Support.run(["check", "/nonexistent/history.jsonl"]).status, 66)
        XCTAssertEqual(try Support.run(["check", corpus("la-g0"), "--model", "queue"]).status, 64)
        XCTAssertEqual(try Support.run(["check", corpus("la-g0"), "--consistency", "linearizable"]).status, 64)
        XCTAssertEqual(try Support.run(["check"]).status, 64)
    }

    func testUnknownWhenTheBudgetRunsOut() throws {
        var lines: [String] = []
        for p in 0..<12 { lines.append(#"{"process":\#(p),"type":"invoke","f":"write","value":\#(p % 3),"time":0}"#) }
        for p in 12..<400 {
            lines.append(#"{"process":\#(p),"type":"invoke","f":"read","value":null,"time":0}"#)
            lines.append(#"{"process":\#(p),"type":"ok","f":"read","value":\#(p % 3),"time":0}"#)
        }
        let path = try Support.temporaryFile("budget.jsonl", lines.joined(separator: "\n"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Support.run(["check", path, "--time-limit", "0.000001"])
        XCTAssertEqual(run.status, 2, run.stdout)
        XCTAssertTrue(run.stdout.contains("unknown:"), run.stdout)
    }

    func testJSONAndHTMLReports() throws {
        let html = NSTemporaryDirectory() + "checker-tests-\(getpid())-report.html"
        defer { try? FileManager.default.removeItem(atPath: html) }
        let run = try Support.run(["check", corpus("la-lost-write-after-failover"), "--json", "--html", html])
        XCTAssertEqual(run.status, 1)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["verdict"] as? String, "invalid")
        XCTAssertEqual(json["valid"] as? Bool, false)
        XCTAssertEqual(json["anomaly-types"] as? [String], ["G-single-realtime"])
        let anomaly = try XCTUnwrap((json["anomalies"] as? [[String: Any]])?.first)
        let cycle = try XCTUnwrap(anomaly["cycle"] as? [[String: Any]])
        XCTAssertEqual(Set(cycle.compactMap { $0["edge"] as? String }), ["rw", "realtime"])
        XCTAssertTrue(cycle.allSatisfy { ($0["why"] as? String)?.isEmpty == false })

        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(page.contains("<svg"))
        XCTAssertTrue(page.contains("class=\"fault\""), "the partition is drawn")
        XCTAssertTrue(page.contains("marker-end"), "the cycle is drawn")
        XCTAssertFalse(page.contains("http://") && page.contains("<link"), "no external assets")
        XCTAssertFalse(page.contains("<script src"))
    }

    func testBenchCheckGeneratesValidHistories() throws {
        let run = try Support.run(["bench-check", "--transactions", "3000", "--seed", "3"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("cycle search"), run.stdout)
        XCTAssertTrue(run.stdout.contains("peak RSS"), run.stdout)
        let register = try Support.run(["bench-check", "--model", "register", "--histories", "2", "--operations", "300"])
        XCTAssertEqual(register.status, 0, register.stdout + register.stderr)
    }
}
