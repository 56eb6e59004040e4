// Register and cas-register histories: linearizability per key (a history is linearizable iff each key's
// sub-history is: P-compositionality), keys searched in parallel, each within the shared time limit and a
// share of the memory limit. A key whose search runs out of budget makes the verdict `unknown` unless
// another key is certainly not linearizable.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum RegisterChecker {
    struct KeyResult: Sendable {
        var key: Int64
        var anomaly: Anomaly?
        var unknown: String?
        var elapsed: Duration
        var operations: Int
    }

    static func check(_ h: History, options: CheckOptions) async -> [KeyResult] {
        var byKey: [Int64: [RegisterOp]] = [:]
        for (id, op) in h.operations.enumerated() {
            // Failed operations did not happen; an info read changes nothing and constrains nothing.
            guard op.outcome != .fail, !(op.outcome == .info && op.function == .read) else { continue }
            let m = h.mops[Int(op.mopStart)]
            byKey[m.key, default: []].append(RegisterOp(
                id: Int32(id), kind: m.kind, ok: op.outcome == .ok, hasValue: m.hasValue, a: m.a, b: m.b,
                call: op.invokeIndex, ret: op.outcome == .ok ? op.completeIndex : Int64.max))
        }
        for key in byKey.keys { byKey[key] = withoutUnobservableInfo(byKey[key]!) }
        let deadline = ContinuousClock.now + options.timeLimit
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let memoryPerKey = options.memoryLimit / max(1, min(cores, byKey.count))
        let history = h
        return await withTaskGroup(of: KeyResult.self) { group in
            for (key, ops) in byKey {
                group.addTask {
                    let start = ContinuousClock.now
                    var out = KeyResult(key: key, elapsed: .zero, operations: ops.count)
                    if let impossible = impossibleResult(history, key: key, ops: ops) {
                        out.anomaly = impossible
                        out.elapsed = ContinuousClock.now - start
                        return out
                    }
                    let result = search(ops, deadline: deadline, memoryLimit: memoryPerKey, byCallFirst: options.registerSearchByCallFirst)
                    switch result {
                    case .linearizable: break
                    case .stepLimitReached: out.unknown = "key \(key == noKey ? "(none)" : String(key)): step limit reached"   // search() retries instead
                    case .unknown(let why): out.unknown = "key \(key == noKey ? "(none)" : String(key)): \(why)"
                    case let .notLinearizable(prefix, depth, state, blocked):
                        out.anomaly = explain(history, key: key, ops: ops, prefix: prefix, depth: depth, state: state, blocked: blocked)
                    }
                    out.elapsed = ContinuousClock.now - start
                    return out
                }
            }
            var results: [KeyResult] = []
            for await r in group { results.append(r) }
            return results.sorted { $0.key < $1.key }
        }
    }

    /// Which order of trying completed operations finds a linearization fast depends on the history (by
    /// return won on many medium value ranges, by call on a long history with small ones, each by 100x and
    /// more). Both searches are exact, so the two run in turn with doubling step budgets and the first to
    /// decide answers: at most about four times the faster one's cost, and deterministic in steps.
    private static func search(_ ops: [RegisterOp], deadline: ContinuousClock.Instant, memoryLimit: Int,
                               byCallFirst: Bool) -> SearchResult {
        var budget = 1_000_000
        while true {
            for byReturn in byCallFirst ? [false, true] : [true, false] {
                var s = LinearizabilitySearch(ops: ops, deadline: deadline, memoryLimit: memoryLimit)
                s.byReturn = byReturn
                s.stepLimit = budget
                let r = s.run()
                if case .stepLimitReached = r { continue }
                return r
            }
            budget = budget.multipliedReportingOverflow(by: 2).overflow ? Int.max : budget * 2
        }
    }

    /// Drops info writes and cas whose new value nothing ever observes (no read returns it, no cas expects
    /// it). Such an operation is never needed: in any linearization that places it, the next operation to
    /// take effect must be a write (nothing else accepts that value), so removing it changes nothing. With
    /// unique values this removes most info operations, which are what make the search grow.
    static func withoutUnobservableInfo(_ ops: [RegisterOp]) -> [RegisterOp] {
        var observed = Set<Int64>()
        for o in ops {
            if o.kind == .read && o.hasValue { observed.insert(o.a) }
            if o.kind == .cas { observed.insert(o.a) }
        }
        return ops.filter { o in
            o.ok || (o.kind == .write && observed.contains(o.a)) || (o.kind == .cas && observed.contains(o.b))
        }
    }

    /// A result no order can explain: a read of a value, or a successful cas from a value, that no write or
    /// cas could have produced. Decided at once, where the search would have to exhaust every order.
    private static func impossibleResult(_ h: History, key: Int64, ops: [RegisterOp]) -> Anomaly? {
        var produced = Set<Int64>()
        for o in ops { if o.kind == .write { produced.insert(o.a) } else if o.kind == .cas { produced.insert(o.b) } }
        guard let bad = ops.first(where: { $0.ok && (($0.kind == .read && $0.hasValue) || $0.kind == .cas) && !produced.contains($0.a) }) else {
            return nil
        }
        let keyText = key == noKey ? "the register" : "key \(key)"
        let op = Int(bad.id)
        let what = bad.kind == .read ? "read \(bad.a) from \(keyText)" : "swapped \(keyText) from \(bad.a)"
        return Anomaly(type: "nonlinearizable", operations: [op], key: key == noKey ? nil : key, explanation: [
            h.introduce(op),
            "\(h.name(op)) \(what), but no operation ever wrote \(bad.a) to it (and it starts as null), so no order of the operations explains this result.",
        ])
    }

    private static func explain(_ h: History, key: Int64, ops: [RegisterOp], prefix: [Int32], depth: Int,
                                state: RegisterState, blocked: Int32) -> Anomaly {
        let keyText = key == noKey ? "the register" : "key \(key)"
        var lines: [String] = []
        let b = Int(blocked)
        lines.append(h.introduce(b))
        // The plainest explanation first: a value read that nothing could have put there.
        let written = Set(ops.flatMap { o -> [Int64] in o.kind == .write ? [o.a] : o.kind == .cas ? [o.b] : [] })
        let bm = h.mops[Int(h.operations[b].mopStart)]
        if bm.kind == .read && bm.hasValue && !written.contains(bm.a) {
            lines.append("\(h.name(b)) read \(bm.a) from \(keyText), but no operation ever wrote \(bm.a) to it.")
        }
        let stateText = state.isSet ? String(state.value) : "null"
        let done = prefix.map { "\(h.name(Int($0))) (\(h.describeValue(Int($0))))" }.joined(separator: ", then ")
        lines.append("No order of the \(ops.count) operations on \(keyText) agrees with every result and with real time. The search got furthest after linearizing \(depth) of them, ending \(done.isEmpty ? "with none" : done), with \(keyText) holding \(stateText).")
        lines.append("From there \(h.name(b)) (\(h.describeValue(b))), which completed at line \(h.operations[b].completeLine), had to take effect, and no order of the operations pending at that point lets its result hold.")
        return Anomaly(type: "nonlinearizable", operations: prefix.map(Int.init) + [b], key: key == noKey ? nil : key, explanation: lines)
    }
}
