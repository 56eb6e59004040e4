import Yams

/// The scenario fields of the network faults (partition shapes, delay, loss) and their cross-checks, read
/// with the same line-and-field errors as the rest of the schema.
extension Reader {
    static func networkFields(plural: Bool) -> [String] { [plural ? "shapes" : "shape", "delay_ms", "jitter_ms", "loss_pct"] }

    func networkKind(_ kind: inout FaultKind, _ k: [String: Node], _ item: Node) throws(ScenarioError) {
        try onlyFor(kind.type, k, item, field: "faults.kinds", shapes: "shapes")
        if let v = k["shapes"] {
            var shapes: [PartitionShape] = []
            for x in try list(v, "faults.kinds.shapes") { shapes.append(try choice(x, "faults.kinds.shapes", PartitionShape.self)) }
            guard !shapes.isEmpty else { throw fail(v, "faults.kinds.shapes", "at least one shape") }
            kind.shapes = shapes
        } else if kind.type == .partition {
            kind.shapes = [.isolate]
        }
        kind.link = try link(kind.type, k, field: "faults.kinds")
    }

    func networkTimeline(_ fault: inout PlannedFault, _ e: [String: Node], _ item: Node) throws(ScenarioError) {
        try onlyFor(fault.type, e, item, field: "faults.timeline", shapes: "shape")
        if let v = e["groups"] {
            guard fault.type == .partition else { throw fail(v, "faults.timeline.groups", "only for type partition, not \(fault.type.rawValue)") }
            if e["shape"] != nil { throw fail(v, "faults.timeline.groups", "a partition has either a shape or groups, not both") }
            var groups: [[Int]] = []
            for g in try list(v, "faults.timeline.groups") {
                var side: [Int] = []
                for x in try list(g, "faults.timeline.groups") { side.append(try int(x, "faults.timeline.groups", in: 1...9)) }
                guard !side.isEmpty else { throw fail(g, "faults.timeline.groups", "an empty side") }
                groups.append(side)
            }
            let all = groups.joined()
            guard Set(all).count == all.count else { throw fail(v, "faults.timeline.groups", "a node is on two sides") }
            guard !groups.isEmpty else { throw fail(v, "faults.timeline.groups", "at least one side") }
            fault.groups = groups
        } else if fault.type == .partition {
            fault.shape = try e["shape"].map { n throws(ScenarioError) in try choice(n, "faults.timeline.shape", PartitionShape.self) } ?? .isolate
        }
        if fault.type == .delay || fault.type == .loss { fault.link = try link(fault.type, e, field: "faults.timeline") }
    }

    /// Delay: `delay_ms` (default 50) and `jitter_ms` (default 10); loss: `loss_pct` (default 10).
    private func link(_ type: FaultType, _ m: [String: Node], field: String) throws(ScenarioError) -> LinkFault {
        var l = LinkFault()
        switch type {
        case .delay:
            l.delayMs = try m["delay_ms"].map { n throws(ScenarioError) in try double(n, "\(field).delay_ms", in: 0...10_000) } ?? 50
            l.jitterMs = try m["jitter_ms"].map { n throws(ScenarioError) in try double(n, "\(field).jitter_ms", in: 0...10_000) } ?? 10
        case .loss:
            l.lossPct = try m["loss_pct"].map { n throws(ScenarioError) in try double(n, "\(field).loss_pct", in: 0...100) } ?? 10
        default: break
        }
        return l
    }

    /// Shapes belong to partitions, delay_ms/jitter_ms to delay, loss_pct to loss.
    private func onlyFor(_ type: FaultType, _ m: [String: Node], _ item: Node, field: String, shapes: String) throws(ScenarioError) {
        let owners: [(String, FaultType)] = [(shapes, .partition), ("delay_ms", .delay), ("jitter_ms", .delay), ("loss_pct", .loss)]
        for (key, owner) in owners where m[key] != nil && type != owner {
            throw fail(m[key], "\(field).\(key)", "only for type \(owner.rawValue), not \(type.rawValue)")
        }
    }

    /// Network faults need netns isolation; a majorities ring needs at least 4 nodes (with 3, every node
    /// already sees a majority, so nothing would be cut).
    func checkNetwork(_ s: Scenario, faultsNode: Node?, clusterNode: Node?) throws(ScenarioError) {
        let used: [FaultType] = s.faults.mode == .none ? [] :
            s.faults.mode == .explicit ? s.faults.timeline.map(\.type) : s.faults.kinds.filter { $0.weight > 0 }.map(\.type)
        if s.cluster.isolation == .loopback, let t = used.first(where: \.needsNetns) {
            throw fail(clusterNode, "cluster.isolation", "\(t.rawValue) faults need isolation: netns")
        }
        if s.faults.mode == .explicit, let n = s.faults.timeline.compactMap(\.groups).joined().joined().first(where: { $0 > s.cluster.nodes }) {
            throw fail(faultsNode, "faults.timeline.groups", "names n\(n), but the cluster has \(s.cluster.nodes) nodes")
        }
        let shapes = s.faults.mode == .explicit ? s.faults.timeline.compactMap(\.shape) : s.faults.kinds.flatMap(\.shapes)
        if s.faults.mode != .none, shapes.contains(.majoritiesRing), s.cluster.nodes < 4 {
            throw fail(faultsNode, "faults", "shape majorities-ring needs at least 4 nodes (cluster.nodes is \(s.cluster.nodes))")
        }
    }
}
