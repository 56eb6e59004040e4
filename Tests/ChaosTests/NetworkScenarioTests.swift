import Foundation
import XCTest
@testable import Chaos

/// The network fields of scenario files, the partition shapes, and the README that documents them.
final class NetworkScenarioTests: XCTestCase {
    func testNetworkFieldsLoad() throws {
        let s = try ScenarioLoader.parse("""
        duration_s: 30
        cluster: {nodes: 5, isolation: netns}
        faults:
          kinds:
            - {type: partition, shapes: [majority, majorities-ring, bridge, one-way], targets: [leader]}
            - {type: partition, targets: [one]}
            - {type: delay, delay_ms: 120, jitter_ms: 30}
            - {type: loss, loss_pct: 2.5}
        """)
        XCTAssertEqual(s.cluster.isolation, .netns)
        XCTAssertEqual(s.faults.kinds[0].shapes, [.majority, .majoritiesRing, .bridge, .oneWay])
        XCTAssertEqual(s.faults.kinds[1].shapes, [.isolate], "a partition without shapes isolates its target")
        XCTAssertEqual(s.faults.kinds[2].link, LinkFault(delayMs: 120, jitterMs: 30))
        XCTAssertEqual(s.faults.kinds[3].link, LinkFault(lossPct: 2.5))
        XCTAssertNil(try ScenarioLoader.parse("name: x").cluster.isolation, "unset: decided at run time")

        let t = try ScenarioLoader.parse("""
        duration_s: 10
        faults: {mode: explicit, timeline: [{at_s: 1, type: partition, shape: one-way, target: leader}, {at_s: 4, type: delay, delay_ms: 80}]}
        """)
        XCTAssertEqual(t.faults.timeline[0].shape, .oneWay)
        XCTAssertEqual(t.faults.timeline[1].link, LinkFault(delayMs: 80, jitterMs: 10))
        XCTAssertNil(t.faults.timeline[1].shape)

        // Random plans draw shapes from the seed, the same ones every time; link settings travel with the fault.
        let a = FaultPlan.make(s, seed: 7)
        XCTAssertEqual(a, FaultPlan.make(s, seed: 7))
        XCTAssertTrue(a.filter { $0.type == .partition }.allSatisfy { $0.shape != nil })
        XCTAssertTrue(a.filter { $0.type == .delay }.allSatisfy { $0.link == LinkFault(delayMs: 120, jitterMs: 30) })
        let encoded = try JSONEncoder().encode(a)
        XCTAssertEqual(try JSONDecoder().decode([PlannedFault].self, from: encoded), a, "run.json replays shapes and links")
    }

    func testMisplacedNetworkFieldsAreRefused() {
        func error(_ yaml: String) -> ScenarioError? {
            do { _ = try ScenarioLoader.parse(yaml, file: "s.yaml"); return nil } catch { return error }
        }
        XCTAssertEqual(error("cluster: {isolation: docker}")?.field, "cluster.isolation")
        XCTAssertEqual(error("faults: {kinds: [{type: kill, shapes: [isolate]}]}")?.field, "faults.kinds.shapes")
        XCTAssertEqual(error("faults: {kinds: [{type: partition, shapes: [triangle]}]}")?.field, "faults.kinds.shapes")
        XCTAssertEqual(error("faults: {kinds: [{type: delay, loss_pct: 5}]}")?.field, "faults.kinds.loss_pct")
        XCTAssertEqual(error("faults: {kinds: [{type: loss, loss_pct: 150}]}")?.problem, "150.0 is out of range 0.0...100.0")
        XCTAssertEqual(error("cluster: {nodes: 3}\nfaults: {kinds: [{type: partition, shapes: [majorities-ring]}]}")?.field, "faults")
        let loopback = error("cluster: {isolation: loopback}\nfaults: {kinds: [{type: partition}]}")
        XCTAssertEqual(loopback?.field, "cluster.isolation")
        XCTAssertEqual(loopback?.line, 1)
        XCTAssertNotNil(error("duration_s: 9\nfaults: {mode: explicit, timeline: [{at_s: 1, type: stop, shape: bridge}]}"))
    }

    func testPartitionShapes() {
        let three = [1, 2, 3], five = [1, 2, 3, 4, 5]
        let isolate = PartitionLayout.make(.isolate, nodes: three, center: 2, pick: 0)
        XCTAssertEqual(isolate.groups, [[2], [1, 3]])
        XCTAssertEqual(Set(isolate.drops.map { [$0.receiver, $0.sender] }), [[2, 1], [1, 2], [2, 3], [3, 2]])

        let majority = PartitionLayout.make(.majority, nodes: five, center: 4, pick: 1)
        XCTAssertEqual(majority.groups.map(\.count), [2, 3])
        XCTAssertTrue(majority.groups[0].contains(4), "the target is in the minority")
        XCTAssertEqual(majority.drops.count, 2 * 2 * 3)

        let ring = PartitionLayout.make(.majoritiesRing, nodes: five, center: 1, pick: 0)
        XCTAssertEqual(ring.groups.count, 5)
        XCTAssertTrue(ring.groups.allSatisfy { $0.count == 3 }, "each node sees a majority of 3: \(ring.groups)")
        XCTAssertEqual(Set(ring.groups).count, 5, "and a different one each")
        let pairs = Set(ring.drops.map { [$0.receiver, $0.sender] })
        XCTAssertTrue(pairs.allSatisfy { pairs.contains([$0[1], $0[0]]) }, "ring cuts are symmetric")

        let bridge = PartitionLayout.make(.bridge, nodes: five, center: 3, pick: 0)
        XCTAssertEqual(bridge.groups, [[1, 2, 3], [3, 4, 5]])
        XCTAssertFalse(bridge.drops.contains { $0.receiver == 3 || $0.sender == 3 }, "the bridge node sees everyone")

        let oneWay = PartitionLayout.make(.oneWay, nodes: three, center: 1, pick: 0)
        XCTAssertEqual(oneWay.drops, [.init(receiver: 1, sender: 2), .init(receiver: 1, sender: 3)], "n1 sends but receives nothing")
    }

    func testTheReadmeDocumentsTheNetworkFields() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("docs/chaos.md"), encoding: .utf8)
        for field in ["isolation:", "type: partition", "shapes:", "shape:", "delay_ms", "jitter_ms", "loss_pct", "type: delay", "type: loss"]
            + PartitionShape.allCases.map(\.rawValue) {
            XCTAssertTrue(readme.contains(field), "docs/chaos.md documents \(field)")
        }
    }
}
