/// The fault timeline of a run: the scenario's explicit one, or one drawn from the seed (random mode). It is
/// decided before the run starts and recorded in run.json, so `--replay` applies exactly the same faults.
public enum FaultPlan {
    public static func make(_ scenario: Scenario, seed: UInt64) -> [PlannedFault] {
        switch scenario.faults.mode {
        case .none: return []
        case .explicit: return scenario.faults.timeline
        case .random: break
        }
        if scenario.faults.maxConcurrent > 1 { return overlapping(scenario, seed: seed) }
        var rng = SeededRandom(seed: seed).derived(0xFA17)
        let kinds = scenario.faults.kinds.filter { $0.weight > 0 }
        let total = kinds.reduce(0) { $0 + $1.weight }
        var plan: [PlannedFault] = []
        // A quiet start lets the workload get going; the last fault ends before the workload does.
        var t = rng.uniform(scenario.faults.intervalS)
        while true {
            var roll = Int(rng.next() % UInt64(total))
            let kind = kinds.first { roll -= $0.weight; return roll < 0 }!
            let duration = (rng.uniform(kind.forS) * 10).rounded() / 10
            guard t + duration < scenario.durationS else { break }
            let target = kind.targets[Int(rng.next() % UInt64(kind.targets.count))]
            var fault = PlannedFault(atS: (t * 10).rounded() / 10, type: kind.type, target: target,
                                     pick: Int(rng.next() % 1000), forS: duration)
            // Drawn only for partitions, so the plans of scenarios without them stay as they were.
            if kind.type == .partition, !kind.shapes.isEmpty { fault.shape = kind.shapes[Int(rng.next() % UInt64(kind.shapes.count))] }
            if kind.type == .delay || kind.type == .loss { fault.link = kind.link }
            if kind.type == .disk { fault.error = kind.errors.isEmpty ? .eio : kind.errors[Int(rng.next() % UInt64(kind.errors.count))] }
            if kind.type == .clock { fault.clock = drawClock(kind.clock, &rng) }
            if kind.type == .powerLoss {
                fault.torn = rng.uniform([0, 1]) < kind.torn
                fault.writebackS = kind.writebackS
            }
            plan.append(fault)
            t += duration + max(0.1, rng.uniform(scenario.faults.intervalS))
        }
        return plan
    }

    /// Random mode with `max_concurrent` above 1: faults start an interval apart whatever the others do, so
    /// they overlap (a leader killed while partitioned, a node paused while another is down), with at most
    /// `max_concurrent` in force and one network fault at a time. Which nodes they hit is decided when each
    /// is applied: the nemesis keeps faults that hold a node on different nodes.
    static func overlapping(_ scenario: Scenario, seed: UInt64) -> [PlannedFault] {
        var rng = SeededRandom(seed: seed).derived(0xFA18)
        let kinds = scenario.faults.kinds.filter { $0.weight > 0 }
        let total = kinds.reduce(0) { $0 + $1.weight }
        let limit = scenario.faults.maxConcurrent
        var plan: [PlannedFault] = []
        var t = rng.uniform(scenario.faults.intervalS)
        while t < scenario.durationS {
            var roll = Int(rng.next() % UInt64(total))
            let kind = kinds.first { roll -= $0.weight; return roll < 0 }!
            let duration = (rng.uniform(kind.forS) * 10).rounded() / 10
            let target = kind.targets[Int(rng.next() % UInt64(kind.targets.count))]
            let pick = Int(rng.next() % 1000)
            var at = (t * 10).rounded() / 10
            // Wait for room: fewer than `limit` in force, and no other network fault for a network one.
            while true {
                let active = plan.filter { $0.atS <= at && at < $0.atS + $0.forS }
                let clash = active.count >= limit || (kind.type.needsNetns && active.contains { $0.type.needsNetns })
                guard clash, let next = active.map({ $0.atS + $0.forS }).min() else { break }
                at = ((next + 0.1) * 10).rounded() / 10
            }
            guard at + duration < scenario.durationS else { break }
            var fault = PlannedFault(atS: at, type: kind.type, target: target, pick: pick, forS: duration)
            if kind.type == .partition, !kind.shapes.isEmpty { fault.shape = kind.shapes[Int(rng.next() % UInt64(kind.shapes.count))] }
            if kind.type == .delay || kind.type == .loss { fault.link = kind.link }
            if kind.type == .disk { fault.error = kind.errors.isEmpty ? .eio : kind.errors[Int(rng.next() % UInt64(kind.errors.count))] }
            if kind.type == .clock { fault.clock = drawClock(kind.clock, &rng) }
            if kind.type == .powerLoss {
                fault.torn = rng.uniform([0, 1]) < kind.torn
                fault.writebackS = kind.writebackS
            }
            plan.append(fault)
            t = at + max(0.1, rng.uniform(scenario.faults.intervalS))
        }
        return plan.sorted { $0.atS < $1.atS }
    }

    /// A clock fault from its kind: the mode, then its number (rates and jumps to two decimals).
    static func drawClock(_ k: ClockKind, _ rng: inout SeededRandom) -> ClockChange {
        let mode = k.modes.isEmpty ? .rate : k.modes[Int(rng.next() % UInt64(k.modes.count))]
        switch mode {
        case .rate: return ClockChange(mode: .rate, rate: (rng.uniform(k.rate) * 100).rounded() / 100)
        case .jump: return ClockChange(mode: .jump, jumpS: (rng.uniform(k.jumpS) * 100).rounded() / 100)
        case .strobe: return ClockChange(mode: .strobe, strobeMs: k.strobeMs, strobeS: k.strobeS)
        }
    }
}
