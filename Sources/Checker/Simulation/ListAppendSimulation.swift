// Generates list-append histories from a simulated serial database: every transaction takes effect
// atomically at one instant between its invocation and its completion, so the history is strict
// serializable by construction, whatever the overlap. Clients fail (certainly no effect) and crash (info:
// the effect happened, or happens later, or never), after which the client continues as a new process.
// Keys are retired after a number of appends, as Jepsen's generator does, so reads stay short.

public struct ListAppendSimulation: Sendable {
    public var transactions = 1000
    public var processes = 10
    public var activeKeys = 10
    public var maxWritesPerKey = 32
    public var maxLength = 4
    public var readFraction = 0.5
    public var failRate = 0.02
    public var infoRate = 0.03

    public init() {}

    private enum Phase { case idle, invoked, applied }

    private struct Txn {
        var process: Int64
        var mops: [(append: Bool, key: Int64, value: Int64)]
        var reads: [[Int64]] = []
        var phase = Phase.idle
    }

    /// Writes the history through `writer`; same seed, same history.
    public func generate(seed: UInt64, into w: HistoryWriter) {
        var random = SeededRandom(seed: seed)
        var database: [Int64: [Int64]] = [:]
        var keys = (0..<Int64(activeKeys)).map { $0 }
        var writesPlanned: [Int64: Int] = [:]
        var nextKey = Int64(activeKeys)
        var nextElement: Int64 = 1
        var nextProcess = Int64(processes)
        var slots = (0..<processes).map { Txn(process: Int64($0), mops: []) }
        var zombies: [Txn] = []            // crashed before taking effect; may still take effect later
        var invoked = 0
        var busy = 0

        func apply(_ t: inout Txn) {
            t.reads = []
            for m in t.mops {
                if m.append { database[m.key, default: []].append(m.value) } else { t.reads.append(database[m.key] ?? []) }
            }
        }

        while invoked < transactions || busy > 0 {
            if !zombies.isEmpty && random.chance(0.05) {
                var z = zombies.remove(at: random.below(zombies.count))
                if random.chance(0.5) { apply(&z) }          // took effect late, or never
            }
            let s = random.below(processes)
            switch slots[s].phase {
            case .idle:
                guard invoked < transactions else { continue }
                let length = 1 + random.below(maxLength)
                var mops: [(append: Bool, key: Int64, value: Int64)] = []
                for _ in 0..<length {
                    let slot = random.below(keys.count)
                    let key = keys[slot]
                    if random.chance(readFraction) {
                        mops.append((false, key, 0))
                    } else {
                        mops.append((true, key, nextElement))
                        nextElement += 1
                        writesPlanned[key, default: 0] += 1
                        if writesPlanned[key]! >= maxWritesPerKey {
                            keys[slot] = nextKey
                            nextKey += 1
                        }
                    }
                }
                slots[s].mops = mops
                slots[s].phase = .invoked
                invoked += 1
                busy += 1
                w.begin(process: slots[s].process, type: "invoke", f: "txn")
                writeMops(w, mops, reads: nil)
                w.end(time: w.tick(&random))
            case .invoked:
                if random.chance(failRate) {
                    w.begin(process: slots[s].process, type: "fail", f: "txn")
                    writeMops(w, slots[s].mops, reads: nil)
                    w.end(time: w.tick(&random))
                    slots[s].phase = .idle
                    busy -= 1
                } else if random.chance(infoRate / 2) {
                    zombies.append(slots[s])
                    crash(w, &slots[s], &random, &nextProcess)
                    busy -= 1
                } else {
                    apply(&slots[s])
                    slots[s].phase = .applied
                }
            case .applied:
                if random.chance(infoRate / 2) {
                    crash(w, &slots[s], &random, &nextProcess)
                } else {
                    w.begin(process: slots[s].process, type: "ok", f: "txn")
                    writeMops(w, slots[s].mops, reads: slots[s].reads)
                    w.end(time: w.tick(&random))
                    slots[s].phase = .idle
                }
                busy -= 1
            }
        }
        w.finish()
    }

    private func crash(_ w: HistoryWriter, _ t: inout Txn, _ random: inout SeededRandom, _ nextProcess: inout Int64) {
        // Half the time the client records the info; otherwise the invoke is left without completion.
        if random.chance(0.5) {
            w.begin(process: t.process, type: "info", f: "txn")
            writeMops(w, t.mops, reads: nil)
            w.end(time: w.tick(&random))
        }
        t = Txn(process: nextProcess, mops: [])
        nextProcess += 1
    }

    private func writeMops(_ w: HistoryWriter, _ mops: [(append: Bool, key: Int64, value: Int64)], reads: [[Int64]]?) {
        w.raw("[")
        var r = 0
        for (i, m) in mops.enumerated() {
            if i > 0 { w.raw(",") }
            if m.append {
                w.raw("[\"append\",")
                w.int(m.key)
                w.raw(",")
                w.int(m.value)
                w.raw("]")
            } else {
                w.raw("[\"r\",")
                w.int(m.key)
                w.raw(",")
                if let reads { w.list(reads[r]) } else { w.raw("null") }
                r += 1
                w.raw("]")
            }
        }
        w.raw("]")
    }
}
