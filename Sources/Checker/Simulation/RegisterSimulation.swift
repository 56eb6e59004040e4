// Generates register / cas-register histories from simulated registers: each operation takes effect at one
// instant between invocation and completion (linearizable by construction). Values come from a small range,
// as in Jepsen's cas-register tests, so writes repeat and the search cannot lean on unique values. Crashed
// operations become info and may take effect later or never.

public struct RegisterSimulation: Sendable {
    public var operations = 1000
    public var processes = 10
    public var keys = 1
    public var valueRange = 5
    public var cas = true
    public var failRate = 0.0        // a cas that does not swap is reported as fail regardless
    public var infoRate = 0.03
    /// Makes the first read applied after this many invocations return the register's previous value: one
    /// injected stale read, for timing the search on histories that are (most likely) not linearizable.
    public var staleReadAfter: Int? = nil

    public init() {}

    private enum Phase { case idle, invoked, applied }

    private struct Op {
        var process: Int64
        var kind = MicroOpKind.read
        var key: Int64 = 0
        var a: Int64 = 0
        var b: Int64 = 0
        var result: Int64? = nil
        var seq = 0
        var invokedAt = 0
        var swapped = false
        var phase = Phase.idle
    }

    public func generate(seed: UInt64, into w: HistoryWriter) {
        var random = SeededRandom(seed: seed)
        var state: [Int64: Int64] = [:]
        // For the injected stale read: per key, the operation that last changed it and the value before.
        var lastChange: [Int64: (seq: Int, before: Int64)] = [:]
        var completedAt: [Int: Int] = [:]
        var events = 0
        var injected = false
        var slots = (0..<processes).map { Op(process: Int64($0)) }
        var zombies: [Op] = []
        var nextProcess = Int64(processes)
        var invoked = 0, busy = 0

        func apply(_ o: inout Op) {
            switch o.kind {
            case .read:
                o.result = state[o.key]
                // Stale only if the change it misses was acknowledged before this read began.
                if !injected, let after = staleReadAfter, invoked > after, let change = lastChange[o.key],
                   let done = completedAt[change.seq], done < o.invokedAt, change.before != state[o.key] {
                    o.result = change.before
                    injected = true
                }
            case .write:
                if let v = state[o.key], v != o.a { lastChange[o.key] = (o.seq, v) }
                state[o.key] = o.a
            default:
                o.swapped = state[o.key] == o.a
                if o.swapped, o.a != o.b { lastChange[o.key] = (o.seq, o.a) }
                if o.swapped { state[o.key] = o.b }
            }
        }
        func write(_ o: Op, type: String) {
            events += 1
            if type != "invoke" { completedAt[o.seq] = events }
            let f = o.kind == .read ? "read" : o.kind == .write ? "write" : "cas"
            w.begin(process: o.process, type: type, f: f)
            switch o.kind {
            case .read: if type == "ok", let r = o.result { w.int(r) } else { w.raw("null") }
            case .write: w.int(o.a)
            default: w.list([o.a, o.b])
            }
            w.end(time: w.tick(&random), key: keys > 1 ? o.key : nil)
        }
        func crash(_ o: inout Op) {
            if random.chance(0.5) { write(o, type: "info") }
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
                o.key = Int64(random.below(keys))
                let roll = random.below(cas ? 3 : 2)
                o.kind = roll == 0 ? .read : roll == 1 ? .write : .cas
                o.a = Int64(random.below(valueRange))
                o.b = Int64(random.below(valueRange))
                o.phase = .invoked
                o.seq = invoked
                o.invokedAt = events + 1
                slots[s] = o
                invoked += 1
                busy += 1
                write(o, type: "invoke")
            case .invoked:
                if random.chance(failRate) {
                    write(slots[s], type: "fail")
                    slots[s].phase = .idle
                    busy -= 1
                } else if random.chance(infoRate / 2) {
                    zombies.append(slots[s])
                    crash(&slots[s])
                    busy -= 1
                } else {
                    apply(&slots[s])
                    slots[s].phase = .applied
                }
            case .applied:
                if random.chance(infoRate / 2) {
                    crash(&slots[s])
                } else {
                    write(slots[s], type: slots[s].kind == .cas && !slots[s].swapped ? "fail" : "ok")
                    slots[s].phase = .idle
                }
                busy -= 1
            }
        }
        w.finish()
    }
}
