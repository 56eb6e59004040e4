import XCTest
import Checker
import LocalCluster
@testable import Chaos

/// A run scrapes every node's metrics into its artifacts (metrics.jsonl), and its report plots throughput and
/// latency from the history and commits from the metrics, with the fault bands across them.
final class RunMetricsTests: XCTestCase {
    func testARunsArtifactsHoldEveryNodesMetricsAndItsReportPlotsThem() async throws {
        var s = Scenario()
        s.name = "metrics-test"
        s.durationS = 6
        s.workload.rateHz = 60
        s.faults.intervalS = [1, 2]
        s.faults.kinds = [FaultKind(type: .kill, targets: [.one], forS: [1, 1.5])]
        s.final.settleS = 0.5
        let root = temporaryRunRoot("run-metrics")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }

        let (record, code) = await ChaosRunner.run(testRunOptions(s, seed: 3, out: root))
        XCTAssertEqual(code, 0, "\(record?.checks.map { "\($0.name) \($0.passed) \($0.detail)" } ?? [])")
        let samples = MetricsScraper.load(root + "/metrics.jsonl")
        for node in 1...3 {
            let mine = samples.filter { $0.node == node }
            XCTAssertGreaterThanOrEqual(mine.count, 3, "node \(node) was scraped about every second")
            XCTAssertNotNil(mine.last?.values["dqlite_raft_term"], "\(mine.last?.values.keys.sorted() ?? [])")
        }
        // Every committed transaction was counted by some leader: the counters' growth adds up to at least the
        // writes the history acknowledged... (each leader's counter restarts when it is killed, so count growth).
        var committed = 0.0
        for node in 1...3 {
            let series = samples.filter { $0.node == node }.compactMap { $0.values["dqlite_committed_transactions_total"] }
            for (a, b) in zip(series, series.dropFirst()) where b >= a { committed += b - a }
        }
        XCTAssertGreaterThan(committed, 50, "commits seen in the metrics while the workload ran")

        let (history, result) = try await Checker.check(path: root + "/history.jsonl")
        let html = HTMLReport.render(history, result, samples: samples)
        for title in ["Throughput (operations completed per second)", "Latency (ms) of each operation", "Commits per second, by node",
                      "Mean commit latency (ms), by node"] {
            XCTAssertTrue(html.contains(title), title)
        }
        XCTAssertTrue(html.contains("<polyline"), "lines drawn")
        XCTAssertTrue(html.contains("<circle"), "latency points drawn")
        XCTAssertGreaterThan(html.components(separatedBy: "class=\"fault\"").count, 4, "fault bands across the timeline and every plot")
    }

    func testPrometheusTextIsParsedWithoutBucketsOrComments() {
        let text = """
            # TYPE dqlite_requests_total counter
            dqlite_requests_total{type="exec"} 12
            dqlite_commit_duration_seconds_bucket{le="0.005"} 3
            dqlite_commit_duration_seconds_sum 0.25
            dqlite_commit_duration_seconds_count 4
            other_series 1
            """
        XCTAssertEqual(MetricsSample.parse(exposition: text[...]), [
            "dqlite_requests_total{type=\"exec\"}": 12, "dqlite_commit_duration_seconds_sum": 0.25, "dqlite_commit_duration_seconds_count": 4,
        ])
    }
}
