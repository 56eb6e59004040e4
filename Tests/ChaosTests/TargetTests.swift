import Foundation
import LocalCluster
import XCTest
@testable import Chaos

/// Targets of the bed: command templates, the scenario fields, and faults a target cannot take.
final class TargetTests: XCTestCase {
    func testACommandTemplateFillsItsPlaceholdersAndDropsTheJoinOfNodeOne() throws {
        let t = try CommandTemplate("my-app --id {id} --db {address} --dir '{dir}/data x' --join {join} --port={port}")
        XCTAssertEqual(t.program, "my-app")
        XCTAssertEqual(t.render(index: 0, address: "10.0.0.1:9001", dir: "/d1", join: nil),
                       ["my-app", "--id", "1", "--db", "10.0.0.1:9001", "--dir", "/d1/data x", "--port=9001"])
        XCTAssertEqual(t.render(index: 2, address: "10.0.0.3:9001", dir: "/d3", join: "10.0.0.1:9001"),
                       ["my-app", "--id", "3", "--db", "10.0.0.3:9001", "--dir", "/d3/data x", "--join", "10.0.0.1:9001", "--port=9001"])
        XCTAssertEqual(try CommandTemplate("app --join={join} --db {address}").render(index: 0, address: "a:1", dir: "", join: nil), ["app", "--db", "a:1"])
        XCTAssertThrowsError(try CommandTemplate("app --db {adress}")) { XCTAssertEqual($0 as? CommandTemplate.Failure, .unknownPlaceholder("adress")) }
        XCTAssertThrowsError(try CommandTemplate("app --dir {dir}")) { XCTAssertEqual($0 as? CommandTemplate.Failure, .missingAddress) }
        XCTAssertThrowsError(try CommandTemplate("app 'open {address}")) { XCTAssertEqual($0 as? CommandTemplate.Failure, .unbalancedQuote) }
        XCTAssertThrowsError(try CommandTemplate("  "))
    }

    func testTargetFieldsLoadAndMisusesAreRefusedWithTheirLine() throws {
        let s = try ScenarioLoader.parse("""
        cluster: {target: command, command: "app --db {address} --dir {dir} --join {join}", dump: false, crash_markers: ["panic:"]}
        workload: {binding: node, read_only: 1, write_only: 2, concurrency: 5, client_timeout_ms: [300, 900], begin: deferred}
        faults: {max_concurrent: 2, kinds: [{type: kill}, {type: member}]}
        """)
        XCTAssertEqual(s.cluster.target, .command)
        XCTAssertFalse(s.cluster.dump)
        XCTAssertEqual(s.workload.binding, .node)
        XCTAssertEqual((0..<5).map(s.workload.role(of:)), [.read, .write, .write, .mixed, .mixed])
        XCTAssertEqual((0..<5).map(s.workload.timeoutMs(of:)), [300, 450, 600, 750, 900], "timeouts staggered over the range")
        XCTAssertEqual(s.workload.begin, .deferred)
        XCTAssertEqual(s.faults.maxConcurrent, 2)

        func error(_ yaml: String) -> ScenarioError? {
            do { _ = try ScenarioLoader.parse(yaml, file: "s.yaml"); return nil } catch { return error }
        }
        XCTAssertEqual(error("cluster: {target: command}")?.field, "cluster.command")
        XCTAssertEqual(error("cluster: {target: postgres}")?.field, "cluster.target")
        XCTAssertEqual(error("cluster: {target: real-dqlite, node_args: [--x]}")?.field, "cluster.target")
        XCTAssertEqual(error("cluster: {target: real-dqlite, stale_reads: true}")?.field, "cluster.target")
        XCTAssertEqual(error("cluster: {dump: false}")?.field, "cluster")
        XCTAssertEqual(error("cluster: {target: command, command: \"app {adress}\"}")?.field, "cluster.command")
        XCTAssertEqual(error("workload: {concurrency: 2, read_only: 2, write_only: 1}")?.field, "workload")
        // A fault the program cannot take is refused before anything starts, naming why.
        let noDir = error("cluster: {target: command, command: \"app --db {address}\"}\nfaults: {kinds: [{type: corrupt}]}")
        XCTAssertEqual(noDir?.field, "faults")
        XCTAssertTrue(noDir?.problem.contains("{dir}") ?? false, "\(String(describing: noDir))")
        XCTAssertTrue(error("cluster: {target: command, command: \"app --db {address} --dir {dir}\"}\nfaults: {kinds: [{type: member}]}")?.problem.contains("{join}") ?? false)
        XCTAssertNil(error("cluster: {target: real-dqlite}\nfaults: {kinds: [{type: member}, {type: corrupt}, {type: disk}, {type: transfer}]}"))
    }

    func testTheScenarioTravelsInRunJSON() throws {
        var s = try ScenarioLoader.parse("""
        name: x
        cluster: {target: real-dqlite, nodes: 5, isolation: netns}
        workload: {model: register, binding: node, read_only: 1, client_timeout_ms: [100, 200]}
        faults: {mode: explicit, timeline: [{at_s: 1, type: partition, shape: bridge, target: leader, for_s: 2}, {at_s: 2, type: transfer, node: 2, to: 3}]}
        """)
        s.cluster.crashMarkers = ["boom"]
        let decoded = try JSONDecoder().decode(Scenario.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(decoded, s)
        XCTAssertEqual(s.faults.timeline[1].node, 2)
        XCTAssertEqual(s.faults.timeline[1].to, 3)
    }

    func testOverlappingPlansKeepTheirLimits() throws {
        let s = try ScenarioLoader.parse("""
        duration_s: 120
        cluster: {nodes: 5, isolation: netns}
        faults:
          max_concurrent: 3
          interval_s: [0.5, 1.5]
          kinds: [{type: kill, for_s: [2, 6]}, {type: pause, for_s: [2, 6]}, {type: partition, shapes: [isolate, bridge], for_s: [3, 6]}]
        """)
        let plan = FaultPlan.make(s, seed: 5)
        XCTAssertEqual(plan, FaultPlan.make(s, seed: 5))
        var most = 0
        for f in plan {
            let active = plan.filter { $0.atS <= f.atS && f.atS < $0.atS + $0.forS }
            most = max(most, active.count)
            XCTAssertLessThanOrEqual(active.count, 3)
            XCTAssertLessThanOrEqual(active.filter { $0.type.needsNetns }.count, 1, "one network fault at a time")
            XCTAssertLessThan(f.atS + f.forS, s.durationS)
        }
        XCTAssertGreaterThan(most, 1, "faults overlap")
        var one = s
        one.faults.maxConcurrent = 1
        let sequential = FaultPlan.make(one, seed: 5)
        XCTAssertEqual(zip(sequential, sequential.dropFirst()).filter { $0.atS + $0.forS > $1.atS }.count, 0)
    }

    func testAnAppliedFaultReplaysOnItsNode() {
        var a = AppliedFault(atS: 3.14159, type: .partition, node: 2, wasLeader: true, forS: 4, shape: .bridge, groups: [[1, 2], [2, 3]])
        a.pick = 17
        let p = a.replayable
        XCTAssertEqual(p.node, 2)
        XCTAssertEqual(p.atS, 3.142)
        XCTAssertEqual(p.pick, 17)
        XCTAssertEqual(p.shape, .bridge)
        var t = AppliedFault(atS: 1, type: .transfer, node: 1, wasLeader: true, forS: 0)
        t.to = 3
        XCTAssertNil(t.replayable.node, "a transfer goes from whoever leads then")
        XCTAssertEqual(t.replayable.to, 3)
    }

    func testFailureClassesMatchByAnomalyClassOrFailedCheck() throws {
        func record(_ anomalies: [String], failed: [String]) -> RunRecord {
            RunRecord(scenario: "x", scenarioPath: nil, scenarioDigest: "", seed: 1, commit: "", expect: "fail", anomalies: anomalies,
                      plannedFaults: [], appliedFaults: [], checks: ["history", "durability", "liveness"].map {
                          CheckOutcome(name: $0, passed: !failed.contains($0), detail: "")
                      }, ok: 0, fail: 0, info: 0, crashes: [], leaderChanged: false, verdict: "pass", reproduce: "")
        }
        let stale = FailureClass(record(["G-single-realtime"], failed: ["history"]))
        XCTAssertTrue(stale.matches(FailureClass(record(["G-single-process", "G1c"], failed: ["history"]))))
        XCTAssertFalse(stale.matches(FailureClass(record(["G1c-realtime"], failed: ["history"]))))
        XCTAssertFalse(stale.matches(FailureClass(record([], failed: []))))
        let lost = FailureClass(record([], failed: ["durability"]))
        XCTAssertTrue(lost.matches(FailureClass(record([], failed: ["durability", "liveness"]))))
        XCTAssertFalse(lost.matches(FailureClass(record([], failed: ["liveness"]))))
        XCTAssertEqual(Shrinker.split(5, into: 2), [[0, 1], [2, 3, 4]])
        XCTAssertEqual(Shrinker.split(3, into: 8), [[0], [1], [2]])
    }
}

/// A replay reports what differs from the recorded run instead of ignoring it.
final class ReplaySetupTests: XCTestCase {
    func testAChangedScenarioFileAndAnotherBinaryAreReported() throws {
        let dir = temporaryRunRoot("replay-setup")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try "name: a\nduration_s: 5\n".write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        try "binary one".write(toFile: dir + "/node", atomically: true, encoding: .utf8)
        var s = try ScenarioLoader.load(path: dir + "/s.yaml")
        s.durationS = 4
        var record = RunRecord(scenario: "a", scenarioPath: dir + "/s.yaml", scenarioDigest: FileDigest.fnv64(path: dir + "/s.yaml"), seed: 9,
                               commit: "", expect: "pass", anomalies: [], plannedFaults: [],
                               appliedFaults: [AppliedFault(atS: 1.5, type: .kill, node: 2, wasLeader: false, forS: 1)],
                               checks: [], ok: 0, fail: 0, info: 0, crashes: [], leaderChanged: false, verdict: "pass", reproduce: "")
        record.scenarioSpec = s
        record.target = "dqlite-node"
        record.program = dir + "/node"
        record.programDigest = FileDigest.fnv64(path: dir + "/node")
        let same = try ReplaySetup.prepare(record, scenarioFile: dir + "/s.yaml", load: { try ScenarioLoader.load(path: $0) },
                                           nodeExecutable: dir + "/node", seed: nil)
        XCTAssertEqual(same.differences, [])
        XCTAssertEqual(same.scenario, s, "the recorded scenario, not the file's")
        XCTAssertEqual(same.seed, 9)
        XCTAssertEqual(same.timeline.map(\.node), [2])

        try "name: a\nduration_s: 6\n".write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        try "binary two".write(toFile: dir + "/node", atomically: true, encoding: .utf8)
        let changed = try ReplaySetup.prepare(record, scenarioFile: dir + "/s.yaml", load: { try ScenarioLoader.load(path: $0) },
                                              nodeExecutable: dir + "/node", seed: 10)
        XCTAssertEqual(changed.differences.count, 3, "\(changed.differences)")
        XCTAssertTrue(changed.differences[0].contains("scenario file"))
        XCTAssertTrue(changed.differences[1].contains("node program differs"))
        XCTAssertTrue(changed.differences[2].contains("seed 10"))
        record.scenarioSpec = nil
        XCTAssertThrowsError(try ReplaySetup.prepare(record, scenarioFile: nil, load: { try ScenarioLoader.load(path: $0) },
                                                     nodeExecutable: dir + "/node", seed: nil))
    }
}
