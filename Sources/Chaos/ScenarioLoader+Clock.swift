import Yams

/// The scenario fields of clock faults, only for type clock: `clock: {modes, rate, jump_s, strobe_ms,
/// strobe_s}` in a kind (what the seed draws from) and `clock: {mode, rate | jump_s | strobe_ms and strobe_s}`
/// in a timeline entry.
extension Reader {
    func clockKind(_ kind: inout FaultKind, _ k: [String: Node]) throws(ScenarioError) {
        guard let v = k["clock"] else { return }
        guard kind.type == .clock else { throw fail(v, "faults.kinds.clock", "only for type clock, not \(kind.type.rawValue)") }
        let c = try mapping(v, "faults.kinds.clock", allowed: ["modes", "rate", "jump_s", "strobe_ms", "strobe_s"])
        if let m = c["modes"] {
            var modes: [ClockMode] = []
            for x in try list(m, "faults.kinds.clock.modes") { modes.append(try choice(x, "faults.kinds.clock.modes", ClockMode.self)) }
            guard !modes.isEmpty else { throw fail(m, "faults.kinds.clock.modes", "at least one mode") }
            kind.clock.modes = modes
        }
        if let r = c["rate"] {
            kind.clock.rate = try range(r, "faults.kinds.clock.rate", in: 0.01...100)
            guard kind.clock.rate[0] > 0 else { throw fail(r, "faults.kinds.clock.rate", "rates must be above 0") }
        }
        if let j = c["jump_s"] { kind.clock.jumpS = try range(j, "faults.kinds.clock.jump_s", in: -86_400...86_400) }
        if let p = c["strobe_ms"] { kind.clock.strobeMs = try double(p, "faults.kinds.clock.strobe_ms", in: 1...60_000) }
        if let a = c["strobe_s"] { kind.clock.strobeS = try double(a, "faults.kinds.clock.strobe_s", in: -86_400...86_400) }
    }

    func clockTimeline(_ fault: inout PlannedFault, _ e: [String: Node], _ item: Node) throws(ScenarioError) {
        guard let v = e["clock"] else {
            if fault.type == .clock { throw fail(item, "faults.timeline.clock", "a clock fault needs clock: {mode: rate | jump | strobe, ...}") }
            return
        }
        guard fault.type == .clock else { throw fail(v, "faults.timeline.clock", "only for type clock, not \(fault.type.rawValue)") }
        let c = try mapping(v, "faults.timeline.clock", allowed: ["mode", "rate", "jump_s", "strobe_ms", "strobe_s"])
        guard let m = c["mode"] else { throw fail(v, "faults.timeline.clock.mode", "missing") }
        var change = ClockChange(mode: try choice(m, "faults.timeline.clock.mode", ClockMode.self))
        switch change.mode {
        case .rate:
            guard let r = c["rate"] else { throw fail(v, "faults.timeline.clock.rate", "missing for mode rate") }
            change.rate = try double(r, "faults.timeline.clock.rate", in: 0.01...100)
        case .jump:
            guard let j = c["jump_s"] else { throw fail(v, "faults.timeline.clock.jump_s", "missing for mode jump") }
            change.jumpS = try double(j, "faults.timeline.clock.jump_s", in: -86_400...86_400)
        case .strobe:
            change.strobeMs = try c["strobe_ms"].map { n throws(ScenarioError) in try double(n, "faults.timeline.clock.strobe_ms", in: 1...60_000) } ?? 200
            change.strobeS = try c["strobe_s"].map { n throws(ScenarioError) in try double(n, "faults.timeline.clock.strobe_s", in: -86_400...86_400) } ?? 10
        }
        fault.clock = change
    }
}
