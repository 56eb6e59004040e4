import Foundation
import Synchronization
import LocalCluster
import XCTest
@testable import Chaos

/// Runs against real processes: a failing run shrinks, a `command` target runs our own node, and a target
/// that cannot start is a harness error that leaves nothing behind.
final class ShrinkAndTargetRunTests: XCTestCase {
    /// broken-ack-before-commit fails without any fault; run with kills and pauses on top, it must shrink to at
    /// most 2 faults (here: none) that still fail with the same anomaly class.
    func testAFailingRunOfBrokenAckShrinksToAtMostTwoFaults() async throws {
        var s = try ScenarioLoader.load(path: Self.repository + "/Scenarios/smoke/broken-ack-before-commit.yaml")
        s.cluster.isolation = .loopback
        s.durationS = 6
        s.faults.mode = .random
        s.faults.intervalS = [0.3, 0.6]
        s.faults.kinds = [FaultKind(type: .kill, targets: [.one], forS: [0.5, 1]), FaultKind(type: .pause, targets: [.one], forS: [0.5, 1])]
        let root = temporaryRunRoot("shrink")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let (first, _) = await ChaosRunner.run(testRunOptions(s, seed: 3, out: root + "/original"))
        let original = try XCTUnwrap(first)
        XCTAssertGreaterThan(original.appliedFaults.count, 2, "the run to shrink has more than 2 faults")
        XCTAssertTrue(FailureClass(original).failed, "broken-ack fails: \(original.checks.map { "\($0.name) \($0.passed)" })")

        let scenario = try XCTUnwrap(original.scenarioSpec)
        var shrinker = Shrinker(original: original, run: { candidate, step in
            var c = scenario
            c.durationS = candidate.durationS
            let dir = root + "/step-\(step)"
            return (await ChaosRunner.run(testRunOptions(c, seed: original.seed, out: dir, replay: candidate.timeline)).record, dir)
        }, say: { print("shrink: \($0)") })
        shrinker.maxRuns = 6
        let result = await shrinker.shrink()
        XCTAssertLessThanOrEqual(result.best.timeline.count, 2)
        let best = try RunRecord.load(try XCTUnwrap(result.bestDirectory) + "/run.json")
        XCTAssertTrue(FailureClass(original).matches(FailureClass(best)), "same class: \(FailureClass(original)) vs \(FailureClass(best))")
        XCTAssertLessThanOrEqual(best.appliedFaults.count, 2)
        XCTAssertLessThan(result.best.durationS, s.durationS, "the run got shorter too")
    }

    /// `target: command` with a template that starts this build's dqlite-node passes a smoke scenario.
    func testACommandTargetStartingOurNodePassesASmokeScenario() async throws {
        let node = CommandRunner.productsDirectory + "/dqlite-node"
        var s = try ScenarioLoader.parse("""
        name: command-target
        duration_s: 6
        cluster:
          target: command
          command: "\(node) --id {id} --address {address} --dir {dir} --join {join} --election-timeout 1000 --heartbeat-timeout 100"
          isolation: loopback
        workload: {rate_hz: 40, binding: node, read_only: 1, write_only: 1, client_timeout_ms: [1000, 2000]}
        faults: {interval_s: [0.5, 1], kinds: [{type: kill, targets: [one], for_s: [0.5, 1]}, {type: pause, targets: [leader], for_s: [0.5, 1]}]}
        final: {settle_s: 0.5}
        """)
        s.final.recoverWithinS = 20
        let root = temporaryRunRoot("command-target")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let (r, code) = await ChaosRunner.run(testRunOptions(s, seed: 11, out: root))
        let record = try XCTUnwrap(r)
        XCTAssertEqual(code, 0, "\(record.checks.map { "\($0.name) \($0.passed) \($0.detail)" })")
        XCTAssertEqual(record.target, "command")
        XCTAssertFalse(record.appliedFaults.isEmpty)
        XCTAssertTrue(record.checks.contains { $0.name == "crashes" && $0.detail.contains("no crash log lines known") },
                      "a command target without crash markers says what the crash check can see")
    }

    /// A program that exits at start is a harness error naming the node, its command line and its log.
    func testATargetThatExitsAtStartIsAHarnessErrorThatNamesIt() async throws {
        let s = try ScenarioLoader.parse("""
        duration_s: 2
        cluster: {target: command, command: "/bin/sh -c 'echo cannot open {dir}; exit 3' {address}", isolation: loopback}
        faults: {mode: none}
        """)
        let root = temporaryRunRoot("exits")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let said = Said()
        var o = testRunOptions(s, seed: 1, out: root)
        o.say = { line in said.add(line) }
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: ProcessCluster.baseDirectory)) ?? [])
        let (record, code) = await ChaosRunner.run(o)
        XCTAssertNil(record)
        XCTAssertEqual(code, 2)
        let text = said.text
        XCTAssertTrue(text.contains("node 1") && text.contains("/bin/sh") && text.contains("cannot open"), text)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: ProcessCluster.baseDirectory)) ?? [])
        XCTAssertTrue(after.subtracting(before).isEmpty, "the cluster's files are gone")
    }

    /// A fault the target cannot take refuses the run (exit 64) before anything starts.
    func testAFaultTheTargetCannotTakeRefusesTheRun() async throws {
        var s = Scenario()
        s.cluster.target = .command
        s.cluster.command = "my-app --db {address}"
        s.faults.mode = .explicit
        s.faults.timeline = [PlannedFault(atS: 1, type: .corrupt, target: .one, forS: 1)]
        let said = Said()
        var o = testRunOptions(s, seed: 1, out: temporaryRunRoot("refused"))
        o.say = { said.add($0) }
        let (record, code) = await ChaosRunner.run(o)
        XCTAssertNil(record)
        XCTAssertEqual(code, 64)
        XCTAssertTrue(said.text.contains("cannot take corrupt faults"), said.text)
    }

    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

/// Lines a run said, collected across tasks.
final class Said: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ s: String) { lines.withLock { $0.append(s) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}
