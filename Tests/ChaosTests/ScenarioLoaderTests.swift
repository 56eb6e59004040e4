import XCTest
@testable import Chaos

final class ScenarioLoaderTests: XCTestCase {
    func testDefaultsAndAFullFile() throws {
        let s = try ScenarioLoader.parse("""
        name: kills
        tier: smoke
        expect: pass
        duration_s: 20
        cluster: {nodes: 5, election_timeout_ms: 800, heartbeat_timeout_ms: 80, node_args: ["--busy-timeout", "2000"]}
        workload: {keys: 4, txn_length: [1, 3], concurrency: 6, rate_hz: 40}
        faults:
          mode: explicit
          timeline:
            - {at_s: 5, type: kill, target: leader, for_s: 2}
            - {at_s: 2, type: pause, target: one, pick: 1}
        final: {settle_s: 1}
        checks: [history, durability]
        """)
        XCTAssertEqual(s.name, "kills")
        XCTAssertEqual(s.cluster.nodes, 5)
        XCTAssertEqual(s.cluster.nodeArgs, ["--busy-timeout", "2000"])
        XCTAssertEqual(s.workload.txnLength, [1, 3])
        XCTAssertEqual(s.faults.timeline.map(\.atS), [2, 5], "sorted by time")
        XCTAssertEqual(s.faults.timeline[1].target, .leader)
        XCTAssertEqual(s.checks, [.history, .durability])
        XCTAssertEqual(try ScenarioLoader.parse("name: x").cluster, ClusterSpec())
    }

    func testDiskFaultFields() throws {
        let s = try ScenarioLoader.parse("""
        name: disks
        cluster: {tmpfs_mib: 64}
        faults:
          kinds:
            - {type: disk, errors: [enospc]}
            - {type: disk}
            - {type: full}
        """)
        XCTAssertEqual(s.cluster.tmpfsMiB, 64)
        XCTAssertEqual(s.faults.kinds.map(\.errors), [[.enospc], [.eio, .enospc], []])
        let t = try ScenarioLoader.parse("faults: {mode: explicit, timeline: [{at_s: 1, type: disk}, {at_s: 2, type: disk, error: enospc}]}")
        XCTAssertEqual(t.faults.timeline.map(\.error), [.eio, .enospc])
    }

    func testClockFaultFields() throws {
        let s = try ScenarioLoader.parse("""
        name: clocks
        faults:
          kinds:
            - {type: clock, clock: {modes: [rate], rate: [0.9, 1.1]}}
            - {type: clock}
        """)
        XCTAssertEqual(s.faults.kinds[0].clock.modes, [.rate])
        XCTAssertEqual(s.faults.kinds[0].clock.rate, [0.9, 1.1])
        XCTAssertEqual(s.faults.kinds[1].clock, ClockKind(), "defaults: every mode, rates 0.5-2, jumps of up to a minute")
        let t = try ScenarioLoader.parse("""
        faults: {mode: explicit, timeline: [{at_s: 1, type: clock, clock: {mode: rate, rate: 3}},
                                            {at_s: 2, type: clock, clock: {mode: jump, jump_s: -30}},
                                            {at_s: 3, type: clock, clock: {mode: strobe}}]}
        """)
        XCTAssertEqual(t.faults.timeline.map(\.clock), [ClockChange(mode: .rate, rate: 3), ClockChange(mode: .jump, jumpS: -30),
                                                        ClockChange(mode: .strobe, strobeMs: 200, strobeS: 10)])
        // Drawn from the seed, the same way twice, within the kind's ranges.
        let random = try ScenarioLoader.parse("duration_s: 60\nfaults: {kinds: [{type: clock, clock: {modes: [rate, jump], rate: [0.9, 1.1], jump_s: [-5, 5]}}]}")
        let plan = FaultPlan.make(random, seed: 7)
        XCTAssertEqual(plan, FaultPlan.make(random, seed: 7))
        XCTAssertFalse(plan.isEmpty)
        for f in plan {
            let c = try XCTUnwrap(f.clock)
            if c.mode == .rate { XCTAssertTrue((0.9...1.1).contains(c.rate ?? 0)) } else { XCTAssertTrue((-5...5).contains(c.jumpS ?? 99)) }
        }
        // As applied, replayed as is.
        var applied = AppliedFault(atS: 1, type: .clock, node: 2, wasLeader: false, forS: 3)
        applied.clock = ClockChange(mode: .rate, rate: 0.5)
        XCTAssertEqual(applied.replayable.clock, applied.clock)
        XCTAssertEqual(applied.replayable.node, 2)
    }

    func testExactPartitionsAndHoldPhases() throws {
        let t = try ScenarioLoader.parse("""
        cluster: {nodes: 3, isolation: netns}
        faults: {mode: explicit, timeline: [{at_s: 1, type: partition, groups: [[1, 3]], for_s: 2},
                                            {at_s: 2, type: hold, for_s: 1},
                                            {at_s: 3, type: hold, hold: all, for_s: 1}]}
        """)
        XCTAssertEqual(t.faults.timeline[0].groups, [[1, 3]])
        XCTAssertNil(t.faults.timeline[0].shape, "groups instead of a shape")
        XCTAssertEqual(t.faults.timeline.map(\.hold), [nil, .writes, .all])
        XCTAssertEqual(PartitionLayout.make(groups: [[1, 3]], nodes: [1, 2, 3]).groups, [[1, 3], [2]], "a node in no group is alone")
        XCTAssertEqual(PartitionLayout.make(groups: [[1, 3]], nodes: [1, 2, 3]).drops.count, 4)
        // As applied, replayed by its groups; a hold names no node.
        var applied = AppliedFault(atS: 1, type: .partition, node: 1, wasLeader: false, forS: 2, groups: [[1, 3], [2]])
        XCTAssertEqual(applied.replayable.groups, [[1, 3], [2]])
        applied = AppliedFault(atS: 2, type: .hold, node: 0, wasLeader: false, forS: 1)
        applied.hold = .all
        XCTAssertEqual(applied.replayable.hold, .all)
        XCTAssertNil(applied.replayable.node)
        func error(_ yaml: String) -> String? {
            do { _ = try ScenarioLoader.parse(yaml, file: "s.yaml"); return nil } catch { return "\(error)" }
        }
        XCTAssertEqual(error("cluster: {nodes: 3}\nfaults: {mode: explicit, timeline: [{at_s: 1, type: partition, groups: [[1, 4]]}]}")?.contains("n4"), true)
        XCTAssertEqual(error("faults: {mode: explicit, timeline: [{at_s: 1, type: partition, groups: [[1], [1, 2]]}]}")?.contains("two sides"), true)
        XCTAssertEqual(error("faults: {mode: explicit, timeline: [{at_s: 1, type: partition, shape: isolate, groups: [[1]]}]}")?.contains("not both"), true)
        XCTAssertEqual(error("faults: {mode: explicit, timeline: [{at_s: 1, type: kill, hold: all}]}")?.contains("only for type hold"), true)
        XCTAssertEqual(error("faults: {kinds: [{type: hold}]}")?.contains("explicit timeline"), true)
    }

    func testMalformedFilesNameTheLineAndTheField() {
        func error(_ yaml: String) -> ScenarioError? {
            do { _ = try ScenarioLoader.parse(yaml, file: "s.yaml"); return nil } catch { return error }
        }
        let typo = error("name: x\nduraton_s: 3\n")
        XCTAssertEqual(typo?.line, 2, "the line of the unknown field")
        XCTAssertEqual(typo?.field, "duraton_s")
        XCTAssertTrue(typo?.description.hasPrefix("s.yaml:2: duraton_s: unknown field") ?? false, typo?.description ?? "")
        XCTAssertEqual(error("cluster:\n  nodes: three\n")?.field, "cluster.nodes")
        XCTAssertEqual(error("cluster:\n  nodes: 30\n")?.problem, "30 is out of range 1...9")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: explode}\n")?.field, "faults.kinds.type")
        XCTAssertEqual(error("workload: {txn_length: [3, 1]}")?.field, "workload.txn_length")
        XCTAssertEqual(error("workload: {model: bank}")?.problem, "'bank' is not one of list-append, set, register")
        XCTAssertEqual(try? ScenarioLoader.parse("workload: {model: register}").workload.model, "register")
        XCTAssertNotNil(error("duration_s: 5\nfaults: {mode: explicit, timeline: [{at_s: 9, type: kill}]}"), "fault after the end")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: kill, errors: [eio]}\n")?.field, "faults.kinds.errors", "errors belong to disk faults")
        XCTAssertEqual(error("faults:\n  timeline:\n    - {at_s: 1, type: disk, error: ebadf}\n")?.field, "faults.timeline.error")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: kill, clock: {modes: [rate]}}\n")?.field, "faults.kinds.clock", "clock belongs to clock faults")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: clock, clock: {modes: [warp]}}\n")?.field, "faults.kinds.clock.modes")
        XCTAssertEqual(error("faults:\n  kinds:\n    - {type: clock, clock: {rate: [0, 2]}}\n")?.field, "faults.kinds.clock.rate")
        XCTAssertEqual(error("faults:\n  timeline:\n    - {at_s: 1, type: clock}\n")?.field, "faults.timeline.clock", "a timeline clock fault says how")
        XCTAssertEqual(error("faults:\n  timeline:\n    - {at_s: 1, type: clock, clock: {mode: rate}}\n")?.field, "faults.timeline.clock.rate")
        XCTAssertNotNil(error("name: [unclosed"))
        XCTAssertNotNil(error(""))
    }
}
