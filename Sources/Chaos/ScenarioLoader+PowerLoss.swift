import Yams

/// The scenario fields of power losses: `torn` (a kind: the chance, 0 to 1, that the newest unsynced write
/// keeps a prefix; a timeline entry: true or false), `writeback_s` (changes older than that survive, as a
/// kernel's periodic writeback would have flushed them), and the group targets `majority` and `all`, which only a
/// power loss takes (a kill of several nodes at once is a power loss with nothing left unsynced).
extension Reader {
    func powerLossKind(_ kind: inout FaultKind, _ k: [String: Node]) throws(ScenarioError) {
        if kind.type != .powerLoss, kind.targets.contains(where: \.isGroup) {
            throw fail(k["targets"], "faults.kinds.targets", "majority and all are only for type power-loss, not \(kind.type.rawValue)")
        }
        if let v = k["writeback_s"] {
            guard kind.type == .powerLoss else { throw fail(v, "faults.kinds.writeback_s", "only for type power-loss, not \(kind.type.rawValue)") }
            kind.writebackS = try double(v, "faults.kinds.writeback_s", in: 0.1...3600)
        }
        guard let v = k["torn"] else { return }
        guard kind.type == .powerLoss else { throw fail(v, "faults.kinds.torn", "only for type power-loss, not \(kind.type.rawValue)") }
        kind.torn = try double(v, "faults.kinds.torn", in: 0...1)
    }

    func powerLossTimeline(_ fault: inout PlannedFault, _ e: [String: Node]) throws(ScenarioError) {
        if fault.type != .powerLoss, fault.target.isGroup {
            throw fail(e["target"], "faults.timeline.target", "majority and all are only for type power-loss, not \(fault.type.rawValue)")
        }
        if let v = e["writeback_s"] {
            guard fault.type == .powerLoss else { throw fail(v, "faults.timeline.writeback_s", "only for type power-loss, not \(fault.type.rawValue)") }
            fault.writebackS = try double(v, "faults.timeline.writeback_s", in: 0.1...3600)
        }
        guard let v = e["torn"] else { return }
        guard fault.type == .powerLoss else { throw fail(v, "faults.timeline.torn", "only for type power-loss, not \(fault.type.rawValue)") }
        fault.torn = try bool(v, "faults.timeline.torn")
    }
}
