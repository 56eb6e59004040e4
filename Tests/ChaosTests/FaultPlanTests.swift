import XCTest
@testable import Chaos

final class FaultPlanTests: XCTestCase {
    func testTheSameSeedMakesTheSameDecisions() throws {
        let s = Scenario.builtInDefault
        let a = FaultPlan.make(s, seed: 42), b = FaultPlan.make(s, seed: 42), c = FaultPlan.make(s, seed: 43)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertFalse(a.isEmpty)
        for f in a { XCTAssertLessThan(f.atS + f.forS, s.durationS, "every fault ends before the workload") }
        XCTAssertEqual(zip(a, a.dropFirst()).filter { $0.atS + $0.forS > $1.atS }.count, 0, "one fault at a time")
        // Workers draw from their own streams: the same seed gives each the same choices.
        var w1 = SeededRandom(seed: 42).derived(1), w1again = SeededRandom(seed: 42).derived(1), w2 = SeededRandom(seed: 42).derived(2)
        let x = (0..<8).map { _ in w1.next() }
        XCTAssertEqual(x, (0..<8).map { _ in w1again.next() })
        XCTAssertNotEqual(x, (0..<8).map { _ in w2.next() })
    }

    func testExplicitTimelinesAreKeptAndNoneMeansNone() throws {
        let s = try ScenarioLoader.parse("duration_s: 10\nfaults: {mode: explicit, timeline: [{at_s: 2, type: kill, target: leader, for_s: 1}]}")
        XCTAssertEqual(FaultPlan.make(s, seed: 1), [PlannedFault(atS: 2, type: .kill, target: .leader, forS: 1)])
        XCTAssertEqual(FaultPlan.make(try ScenarioLoader.parse("faults: {mode: none}"), seed: 1), [])
    }

    func testTheShippedScenariosLoad() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scenarios/smoke")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(files.isEmpty)
        for f in files { XCTAssertNoThrow(try ScenarioLoader.load(path: dir.appendingPathComponent(f).path), f) }
    }
}
