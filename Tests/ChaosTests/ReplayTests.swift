import XCTest
import Checker
import LocalCluster
@testable import Chaos

/// A short run against real dqlite-node processes, then its replay from run.json: the same seed plans the
/// same faults, and the replay applies the recorded timeline.
final class ReplayTests: XCTestCase {
    private func options(_ s: Scenario, seed: UInt64, out: String, replay: [PlannedFault]? = nil) -> RunOptions {
        testRunOptions(s, seed: seed, out: out, replay: replay)
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

    /// run.json holds the scenario and the faults as applied; replaying it twice applies the same faults to
    /// the same nodes at the same offsets (within the time a kill or a leader query takes).
    func testTheSameRunJSONReplayedTwiceAppliesTheSameFaultsToTheSameNodes() async throws {
        var s = Scenario()
        s.name = "exact-replay"
        s.durationS = 6
        s.workload.rateHz = 40
        s.faults.intervalS = [0.5, 1]
        s.faults.maxConcurrent = 2
        s.faults.kinds = [FaultKind(type: .kill, targets: [.one], forS: [0.5, 1.5]), FaultKind(type: .pause, targets: [.leader, .one], forS: [0.5, 1.5])]
        s.final.settleS = 0.5
        let root = temporaryRunRoot("exact-replay")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }

        let (first, _) = await ChaosRunner.run(options(s, seed: 7, out: root + "/first"))
        let original = try XCTUnwrap(first)
        XCTAssertFalse(original.appliedFaults.isEmpty)
        let saved = try RunRecord.load(root + "/first/run.json")
        XCTAssertEqual(saved.scenarioSpec, s, "run.json carries the scenario")
        var replays: [RunRecord] = []
        for k in 1...2 {
            var o = options(try XCTUnwrap(saved.scenarioSpec), seed: saved.seed, out: root + "/replay\(k)", replay: saved.replayTimeline)
            o.replayOf = root + "/first/run.json"
            let (r, _) = await ChaosRunner.run(o)
            replays.append(try XCTUnwrap(r))
        }
        for r in replays {
            XCTAssertEqual(r.appliedFaults.map(\.type), original.appliedFaults.map(\.type))
            XCTAssertEqual(r.appliedFaults.map(\.node), original.appliedFaults.map(\.node), "each fault on the node it hit")
            XCTAssertEqual(r.appliedFaults.map(\.forS), original.appliedFaults.map(\.forS))
            XCTAssertEqual(r.replayOf, root + "/first/run.json")
            XCTAssertTrue(r.reproduce.contains("--replay"))
        }
        for (a, b) in zip(replays[0].appliedFaults, replays[1].appliedFaults) {
            XCTAssertEqual(a.atS, b.atS, accuracy: 0.3, "the same offset: \(a) \(b)")
        }
        for (a, b) in zip(replays[0].appliedFaults, original.appliedFaults) {
            XCTAssertEqual(a.atS, b.atS, accuracy: 0.3)
        }
    }
}
