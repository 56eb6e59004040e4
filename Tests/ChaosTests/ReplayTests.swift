import XCTest
import Checker
import LocalCluster
@testable import Chaos

/// A short run against real dqlite-node processes, then its replay from run.json: the same seed plans the
/// same faults, and the replay applies the recorded timeline.
final class ReplayTests: XCTestCase {
    private func options(_ s: Scenario, seed: UInt64, out: String, replay: [PlannedFault]? = nil) -> RunOptions {
        RunOptions(scenario: s, scenarioPath: nil, scenarioDigest: "test", seed: seed, outputDirectory: out,
                   nodeExecutable: CommandRunner.productsDirectory + "/dqlite-node", replay: replay,
                   checkHistory: { path in
                       do {
                           let (_, r) = try await Checker.check(path: path, model: .listAppend)
                           return HistoryVerdict(passed: r.verdict == .valid, summary: "\(r.verdict)", anomalies: r.anomalyTypes)
                       } catch {
                           return HistoryVerdict(passed: false, summary: "\(error)")
                       }
                   }, say: { _ in })
    }

    func testTheSameSeedPlansTheSameFaultsAndAReplayAppliesThem() async throws {
        var s = Scenario()
        s.name = "replay-test"
        s.durationS = 5
        s.workload.rateHz = 40
        s.faults.intervalS = [0.5, 1]
        s.faults.kinds = [FaultKind(type: .kill, targets: [.one], forS: [0.5, 1]), FaultKind(type: .pause, targets: [.leader], forS: [0.5, 1])]
        s.final.settleS = 0.5
        let root = NSTemporaryDirectory() + "chaos-replay-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }

        let (first, code) = await ChaosRunner.run(options(s, seed: 99, out: root + "/first"))
        let record = try XCTUnwrap(first)
        XCTAssertEqual(code, 0, "checks: \(record.checks.map { "\($0.name) \($0.passed) \($0.detail)" })")
        XCTAssertEqual(record.plannedFaults, FaultPlan.make(s, seed: 99), "run.json records the plan the seed gives")
        XCTAssertFalse(record.appliedFaults.isEmpty)

        let saved = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/first/run.json")))
        var changed = s
        changed.faults.kinds = [FaultKind(type: .stop, targets: [.one])]  // the replay must not re-plan
        let (second, _) = await ChaosRunner.run(options(changed, seed: saved.seed, out: root + "/second", replay: saved.plannedFaults))
        let replayed = try XCTUnwrap(second)
        XCTAssertEqual(replayed.plannedFaults, record.plannedFaults)
        XCTAssertEqual(replayed.appliedFaults.map(\.type), record.appliedFaults.map(\.type))
        XCTAssertEqual(replayed.appliedFaults.map(\.forS), record.appliedFaults.map(\.forS))
        let history = try String(contentsOfFile: root + "/second/history.jsonl", encoding: .utf8)
        XCTAssertTrue(history.contains(#""nemesis":"start""#), "applied faults are in the history")
    }
}
