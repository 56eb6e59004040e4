import XCTest
@testable import Chaos

/// The scenario side of power losses: its fields, the group targets only it takes, the plan drawn from a
/// seed, and the choice of a majority.
final class PowerLossScenarioTests: XCTestCase {
    private func error(_ yaml: String) -> ScenarioError? {
        do { _ = try ScenarioLoader.parse(yaml, file: "s.yaml"); return nil } catch { return error }
    }

    func testFieldsAndTargets() throws {
        let s = try ScenarioLoader.parse("""
        duration_s: 20
        faults:
          kinds:
            - {type: power-loss, targets: [all, majority, leader], torn: 0.5, writeback_s: 5}
        """)
        XCTAssertEqual(s.faults.kinds[0].type, .powerLoss)
        XCTAssertEqual(s.faults.kinds[0].targets, [.all, .majority, .leader])
        XCTAssertEqual(s.faults.kinds[0].torn, 0.5)
        XCTAssertEqual(s.faults.kinds[0].writebackS, 5)
        XCTAssertTrue(s.needsRoot, "the data dirs are FUSE mounts")
        let plan = FaultPlan.make(s, seed: 3)
        XCTAssertFalse(plan.isEmpty)
        XCTAssertEqual(plan, FaultPlan.make(s, seed: 3), "the same seed, the same plan")
        XCTAssertTrue(plan.allSatisfy { $0.torn != nil && $0.writebackS == 5 })
        XCTAssertEqual(Set(FaultPlan.make(s, seed: 4).map { $0.torn! }).count + Set(plan.map { $0.torn! }).count >= 2, true,
                       "torn is drawn, not fixed")

        let t = try ScenarioLoader.parse("faults: {mode: explicit, timeline: [{at_s: 1, type: power-loss, target: all, torn: true}]}")
        XCTAssertEqual(t.faults.timeline[0].target, .all)
        XCTAssertEqual(t.faults.timeline[0].torn, true)
    }

    func testWrongFieldsAreRefusedWithTheirPlace() {
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: kill, targets: [all]}\n")?.field, "faults.kinds.targets")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: kill, targets: [all]}\n")?.problem.contains("only for type power-loss"), true)
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: kill, torn: 0.5}\n")?.field, "faults.kinds.torn")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: power-loss, torn: 2}\n")?.field, "faults.kinds.torn")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: pause, writeback_s: 5}\n")?.field, "faults.kinds.writeback_s")
        XCTAssertEqual(error("faults: {mode: explicit, timeline: [{at_s: 1, type: pause, target: majority}]}")?.field, "faults.timeline.target")
        XCTAssertEqual(error("faults: {mode: explicit, timeline: [{at_s: 1, type: kill, torn: true}]}")?.field, "faults.timeline.torn")
    }

    func testAMajorityIncludesTheLeaderAndAllTakesEveryFreeNode() {
        XCTAssertEqual(Nemesis.powerLossGroup(.majority, free: [0, 1, 2], count: 3, leader: 2, pick: 0), [2, 0])
        XCTAssertEqual(Nemesis.powerLossGroup(.majority, free: [0, 1, 2], count: 3, leader: 2, pick: 1), [2, 1])
        XCTAssertEqual(Nemesis.powerLossGroup(.majority, free: [0, 1, 2, 3, 4], count: 5, leader: nil, pick: 0).count, 3)
        XCTAssertEqual(Nemesis.powerLossGroup(.majority, free: [1], count: 3, leader: 1, pick: 0), [], "no majority is free")
        XCTAssertEqual(Nemesis.powerLossGroup(.all, free: [0, 2], count: 3, leader: 0, pick: 7), [0, 2])
    }

    func testAGroupPowerLossReplaysOnTheNodesItCut() {
        var applied = AppliedFault(atS: 2.5, type: .powerLoss, node: 2, wasLeader: true, forS: 1)
        applied.nodes = [2, 3]
        applied.torn = true
        let replay = applied.replayable
        XCTAssertEqual(replay.nodes, [2, 3])
        XCTAssertNil(replay.node)
        XCTAssertEqual(replay.torn, true)
    }
}
