// Generates set histories from a simulated set: adds of unique elements and whole-set reads, each taking
// effect at one instant between invocation and completion; crashed adds may take effect later or never.

public struct SetSimulation: Sendable {
    public var operations = 300
    public var processes = 5
    public var readFraction = 0.3
    public var failRate = 0.02
    public var infoRate = 0.05

    public init() {}

    private enum Phase { case idle, invoked, applied }

    private struct Op {
        var process: Int64
        var isRead = false
        var element: Int64 = 0
        var result: [Int64] = []
        var phase = Phase.idle
    }

    public func generate(seed: UInt64, into w: HistoryWriter) {
        var random = SeededRandom(seed: seed)
        var set: [Int64] = []
        var slots = (0..<processes).map { Op(process: Int64($0)) }
        var zombies: [Op] = []
        var nextProcess = Int64(processes)
        var nextElement: Int64 = 1
        var invoked = 0, busy = 0

        func apply(_ o: inout Op) {
            if o.isRead { o.result = set } else { set.append(o.element) }
        }
        func write(_ o: Op, _ type: String) {
            w.begin(process: o.process, type: type, f: o.isRead ? "read" : "add")
            if o.isRead { if type == "ok" { w.list(o.result) } else { w.raw("null") } } else { w.int(o.element) }
            w.end(time: w.tick(&random))
        }
        func crash(_ o: inout Op) {
            if random.chance(0.5) { write(o, "info") }
            o = Op(process: nextProcess)
            nextProcess += 1
        }

        while invoked < operations || busy > 0 {
            if !zombies.isEmpty && random.chance(0.05) {
                var z = zombies.remove(at: random.below(zombies.count))
                if random.chance(0.5) { apply(&z) }
            }
            let s = random.below(processes)
            switch slots[s].phase {
            case .idle:
                guard invoked < operations else { continue }
                var o = Op(process: slots[s].process)
                o.isRead = random.chance(readFraction)
                if !o.isRead { o.element = nextElement; nextElement += 1 }
                o.phase = .invoked
                slots[s] = o
                invoked += 1
                busy += 1
                write(o, "invoke")
            case .invoked:
                if random.chance(failRate) {
                    write(slots[s], "fail")
                    slots[s].phase = .idle
                    busy -= 1
                } else if random.chance(infoRate / 2) {
                    if !slots[s].isRead { zombies.append(slots[s]) }
                    crash(&slots[s])
                    busy -= 1
                } else {
                    apply(&slots[s])
                    slots[s].phase = .applied
                }
            case .applied:
                if random.chance(infoRate / 2) { crash(&slots[s]) } else {
                    write(slots[s], "ok")
                    slots[s].phase = .idle
                }
                busy -= 1
            }
        }
        w.finish()
    }
}
