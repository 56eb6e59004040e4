import XCTest
import Foundation
import LocalCluster
@testable import DqliteBench

final class BenchCommandTests: XCTestCase {
    /// A short run of the real tool against a real cluster: it must finish and print its figures (the numbers
    /// themselves are for the benchmark script, not asserted).
    func testRunsAgainstARealClusterAndPrintsFigures() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        let results = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).json").path
        let timeline = results + ".timeline.csv"
        defer {
            try? FileManager.default.removeItem(atPath: results)
            try? FileManager.default.removeItem(atPath: timeline)
        }
        let r = try await CommandRunner.run(CommandRunner.productsDirectory + "/dqlite-bench", [
            "--cluster", cluster.addresses.joined(separator: ","), "--workload", "kvreadwrite", "--workers", "2",
            "--duration", "2", "--value-size", "256", "--results", results, "--timeline", timeline,
        ], timeout: .seconds(60))
        XCTAssertEqual(r.status, 0, r.stderr)
        print(r.stdout)
        XCTAssertTrue(r.stdout.contains("workload kvreadwrite, 2 worker(s)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("exec: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("query: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("latency ms: p50"), r.stdout)
        XCTAssertTrue(r.stdout.contains("client CPU:"), r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results))) as? [String: Any]
        let exec = try XCTUnwrap(json?["exec"] as? [String: Any])
        XCTAssertGreaterThan(exec["ok"] as? Int ?? 0, 0)
        let query = try XCTUnwrap(json?["query"] as? [String: Any])

        // The timeline: one line per successful operation, in start order, within the run.
        let lines = try String(contentsOfFile: timeline, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("# run started at unix ms ") ?? false, "\(lines.prefix(2))")
        XCTAssertEqual(lines.dropFirst().first, "start_ms,latency_ms,op")
        let rows = lines.dropFirst(2).map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.filter { $0.last == "exec" }.count, exec["ok"] as? Int)
        XCTAssertEqual(rows.filter { $0.last == "query" }.count, query["ok"] as? Int)
        let starts = rows.compactMap { Double($0[0]) }
        XCTAssertEqual(starts.count, rows.count)
        XCTAssertEqual(starts, starts.sorted())
        XCTAssertLessThan(starts.last ?? 0, 2_500, "every operation started within the 2 s run")
        XCTAssertTrue(rows.allSatisfy { (Double($0[1]) ?? -1) > 0 }, "latencies are positive")
    }

    /// kvread: keys written before the clock starts, then reads only, every one of them found.
    func testReadsOnlyFindEveryKeyTheyRead() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        var options = BenchOptions(cluster: cluster.addresses)
        options.workload = .kvread
        options.workers = 2
        options.duration = .seconds(1)
        options.valueSize = 64
        let report = try await Benchmark.run(options)
        XCTAssertEqual(report.exec.latencies.count, 0, "no timed writes")
        XCTAssertGreaterThan(report.query.latencies.count, 0)
        XCTAssertTrue(report.query.errors.isEmpty, "\(report.query.errors)")
    }

    /// --ops: exactly that many successful operations over the workers (7 over 3: 3, 2 and 2; real dqlite's
    /// "database is locked" answers are not counted), whatever the duration; --rate: no faster than asked
    /// (70 at 100/s take at least 0.69 s).
    func testAFixedNumberOfOperationsAtAFixedRate() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        addTeardownBlock { await cluster.stop() }
        var options = BenchOptions(cluster: cluster.addresses)
        options.workers = 3
        options.operations = 7
        options.duration = .milliseconds(1)
        options.valueSize = 64
        var report = try await Benchmark.run(options)
        XCTAssertEqual(report.exec.ok, 7)
        options.operations = 70
        options.rate = 100
        report = try await Benchmark.run(options)
        XCTAssertEqual(report.exec.ok, 70)
        XCTAssertGreaterThanOrEqual(report.seconds, 0.66, "paced at 100 operations per second")
        XCTAssertLessThan(report.seconds, 5)
        let r = try await CommandRunner.run(CommandRunner.productsDirectory + "/dqlite-bench", [
            "--cluster", cluster.addresses.joined(separator: ","), "--workers", "1", "--ops", "40", "--value-size", "32"], timeout: .seconds(60))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("exec: 40 ok"), r.stdout)
    }

    func testBadFlagsAreRefused() async throws {
        let tool = CommandRunner.productsDirectory + "/dqlite-bench"
        for args in [["--workload", "nope", "--cluster", "a:1"], ["--workers", "0", "--cluster", "a:1"], [], ["--ops", "0", "--cluster", "a:1"],
                     ["--rate", "-1", "--cluster", "a:1"]] {
            let r = try await CommandRunner.run(tool, args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains("Error:"), r.stderr)
        }
    }

    func testPercentilesAndFormatting() {
        var s = LatencyStats()
        for ms in 1...100 { s.record(.milliseconds(ms)) }
        let sum = s.summary()!
        XCTAssertEqual(sum.p50, 50)
        XCTAssertEqual(sum.p90, 90)
        XCTAssertEqual(sum.p99, 99)
        XCTAssertEqual(sum.max, 100)
        XCTAssertEqual(String(format2: 3.14159), "3.14")
        XCTAssertEqual(String(format3: 0.0005), "0.001")
    }

    func testWorkerValuesFollowTheSeed() async throws {
        var a = SplitMix64(seed: 7), b = SplitMix64(seed: 7)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
    }
}
