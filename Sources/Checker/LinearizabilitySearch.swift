// Linearizability of one register (read / write / cas) by the Wing & Gong search with Lowe's memoisation,
// as Porcupine does it: walk a linked list of call and return entries, linearize a pending call when the
// model allows it and the (linearized set, state) pair is new, backtrack at a return whose operation is not
// linearized yet. An `info` operation has no return entry: it may take effect at any time after its call,
// or never, so the search succeeds once every completed operation is linearized.
//
// Info operations are linearized only where something consumes them (normal form). Take any valid
// linearization and an info operation X in it. If X is last, or the next operation is a write, or X leaves
// the value as it was, deleting X leaves a valid linearization (no one saw its effect; X has no return, so
// no real-time constraint is lost). Repeating this ends in a linearization where every info operation
// changes the value and is followed at once by a read or cas (ok or info) that needs the new value. So the
// search may require exactly that, which removes the 2^k ways of slipping k pending info operations in
// anywhere: after an info operation the next one may not be a write (`afterInfo`), and an info operation
// that would not change the value is never tried. `afterInfo` is part of the memoised configuration, since
// a configuration reached that way has fewer continuations than the same one reached otherwise.
//
// A completed read that can take effect in the current state is linearized at once, with no alternative
// tried: in any valid continuation it can be moved to the front (a read changes nothing, and everything
// that had to precede it is already linearized, or its call would not have been reached). This removes the
// orders of concurrent reads, a third of a typical history.
//
// Soundness of the three prunings together (normal form, forced reads, subsumption in the memo, see
// LinearizationCache): for a configuration that has a valid continuation, take its shortest. Following it
// one step gives a child that is explored, or is skipped because a configuration that dominates it was seen;
// either way a configuration seen by the search has a valid continuation strictly shorter. So the search
// reaches a configuration with nothing left to linearize, and answers linearizable.

struct RegisterOp {
    var id: Int32            // operation id in the history
    var kind: MicroOpKind    // .read, .write, .cas
    var ok: Bool             // false: info (may or may not have happened)
    var hasValue: Bool       // for reads: false = read null
    var a: Int64
    var b: Int64
    var call: Int64
    var ret: Int64           // Int64.max for info
}

/// The register's value: `nil` until the first write.
struct RegisterState: Equatable {
    var isSet: Bool
    var value: Int64
    /// The last operation linearized was an info one: the next must consume its value (see above).
    var afterInfo = false

    static let initial = RegisterState(isSet: false, value: 0)

    var hash: UInt64 { (isSet ? mixHash(UInt64(bitPattern: value) ^ 0x5555) : 0x1234_5678) ^ (afterInfo ? 0x9E37_79B9 : 0) }

    /// The word the memo stores for the flags.
    var flags: UInt64 { (isSet ? 1 : 0) | (afterInfo ? 2 : 0) }

    /// The state after `op`, or nil if `op` cannot take effect in this state, or the normal form above
    /// excludes it here.
    @inline(__always) func step(_ op: RegisterOp) -> RegisterState? {
        var after: RegisterState
        switch op.kind {
        case .read:
            guard op.hasValue ? (isSet && value == op.a) : !isSet else { return nil }
            after = self
        case .write:
            if afterInfo { return nil }
            after = RegisterState(isSet: true, value: op.a)
        case .cas:
            guard isSet && value == op.a else { return nil }
            after = RegisterState(isSet: true, value: op.b)
        default:
            return nil
        }
        after.afterInfo = !op.ok
        if !op.ok && after.isSet == isSet && after.value == value { return nil }
        return after
    }
}

enum SearchResult {
    case linearizable
    /// Deepest partial linearization reached (its last operations, oldest first), the state after it, and
    /// the operation whose return could not be passed.
    case notLinearizable(prefix: [Int32], depth: Int, state: RegisterState, blocked: Int32)
    case unknown(String)
    /// `stepLimit` reached: undecided so far, the caller may try another order.
    case stepLimitReached
}

struct LinearizabilitySearch {
    let ops: [RegisterOp]
    let deadline: ContinuousClock.Instant
    let memoryLimit: Int
    /// Completed operations tried by earliest return rather than by call (see `nextOk`).
    var byReturn = true
    var stepLimit = Int.max

    func run() -> SearchResult {
        let n = ops.count
        if n == 0 { return .linearizable }
        // Entries: 2*i = call of op i, 2*i+1 = return of op i; ordered by event index in a doubly linked list
        // with a sentinel head (index `head`).
        var entries: [Int32] = []
        entries.reserveCapacity(2 * n)
        for i in 0..<n {
            entries.append(Int32(2 * i))
            if ops[i].ok { entries.append(Int32(2 * i + 1)) }
        }
        entries.sort { time($0) < time($1) }
        let head = 2 * n
        var next = Array(repeating: Int32(-1), count: 2 * n + 1)
        var prev = Array(repeating: Int32(-1), count: 2 * n + 1)
        var last = head
        for e in entries {
            next[last] = e
            prev[Int(e)] = Int32(last)
            last = Int(e)
        }

        // Interchangeable info operations (same kind and arguments) are linearized only in call order: the
        // search would otherwise try every permutation of them.
        var twin = Array(repeating: Int32(-1), count: n)
        var lastOfKind: [SIMD3<Int64>: Int32] = [:]
        for i in 0..<n where !ops[i].ok {
            let signature = SIMD3(Int64(ops[i].kind.rawValue), ops[i].a, ops[i].b)
            if let t = lastOfKind[signature] { twin[i] = t }
            lastOfKind[signature] = Int32(i)
        }

        // Completed and info operations are numbered apart (`slot`), each kind in its own bitset, so that the
        // memo can compare the info sets by inclusion.
        var slot = Array(repeating: 0, count: n)
        var okCount = 0, infoCount = 0
        for i in 0..<n {
            if ops[i].ok { slot[i] = okCount; okCount += 1 } else { slot[i] = infoCount; infoCount += 1 }
        }
        var zobrist = [UInt64](repeating: 0, count: n)
        for i in 0..<n where ops[i].ok { zobrist[i] = mixHash(UInt64(i) &+ 0xABCD_EF01) }
        var okSet = [UInt64](repeating: 0, count: (okCount + 63) / 64)
        var infoSet = [UInt64](repeating: 0, count: (infoCount + 63) / 64)
        @inline(__always) func isLinearized(_ i: Int) -> Bool {
            let s = slot[i]
            return (ops[i].ok ? okSet[s >> 6] : infoSet[s >> 6]) & (1 << (UInt64(s) & 63)) != 0
        }
        @inline(__always) func flip(_ i: Int) {
            let s = slot[i]
            if ops[i].ok { okSet[s >> 6] ^= 1 << (UInt64(s) & 63) } else { infoSet[s >> 6] ^= 1 << (UInt64(s) & 63) }
        }

        var setHash: UInt64 = 0
        var cache = LinearizationCache(okWords: okSet.count, infoWords: infoSet.count)
        var state = RegisterState.initial
        // The linearized calls, the state before each, and whether it was forced (a read with no alternative).
        var calls: [(entry: Int32, state: RegisterState, forced: Bool)] = []
        var best = (depth: -1, prefix: [Int32](), state: RegisterState.initial, blocked: Int32(-1))
        var steps = 1023              // the budget is looked at on the first step too: it may be spent already

        func lift(_ e: Int) {         // remove call entry e and its return
            next[Int(prev[e])] = next[e]
            if next[e] >= 0 { prev[Int(next[e])] = prev[e] }
            let op = e / 2
            if ops[op].ok {
                let r = 2 * op + 1
                next[Int(prev[r])] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = prev[r] }
            }
        }
        func unlift(_ e: Int) {
            let op = e / 2
            if ops[op].ok {
                let r = 2 * op + 1
                if next[r] >= 0 { prev[Int(next[r])] = Int32(r) }
                next[Int(prev[r])] = Int32(r)
            }
            if next[e] >= 0 { prev[Int(next[e])] = Int32(e) }
            next[Int(prev[e])] = Int32(e)
        }
        /// The values some callable operation consumes (a completed read's, a cas's expected value): an info
        /// operation is tried only if it produces one of them, since the normal form wants a consumer right
        /// after it. Without this check each of k pending info operations costs a step and a memo entry at
        /// every configuration, only to fail at the next. Computed when first needed in a configuration.
        var consumable: [Int64] = []
        var consumableValid = false
        func computeConsumable() {
            consumable.removeAll(keepingCapacity: true)
            var e = Int(next[head])
            while e >= 0 && e % 2 == 0 {
                let o = ops[e / 2]
                if (o.kind == .read && o.ok && o.hasValue) || o.kind == .cas { consumable.append(o.a) }
                e = Int(next[e])
            }
            consumableValid = true
        }

        /// Linearizes call entry e in the current configuration if the model and the memo allow it.
        func tryLinearize(_ e: Int, forced: Bool) -> Bool {
            let i = e / 2
            guard let after = state.step(ops[i]) else { return false }
            flip(i)
            let h = setHash ^ zobrist[i]
            guard cache.insert(ok: okSet, info: infoSet, hash: h ^ after.hash, state: after) else {
                flip(i)
                return false
            }
            calls.append((Int32(e), state, forced))
            consumableValid = false
            setHash = h
            state = after
            lift(e)
            return true
        }
        // In the first pass, completed operations are tried by earliest return (then index), not by call: the
        // one whose return comes first must be linearized before any later return is passed, and putting
        // it early tends to leave the register as the operations that follow observed it. `okKey` is the
        // last one tried in the current configuration.
        let firstKey = (Int64.min, -1)
        var okKey = firstKey
        func nextOk() -> Int? {
            var found = -1
            var foundKey = (Int64.max, Int.max)
            var e = Int(next[head])
            while e >= 0 && e % 2 == 0 {
                let i = e / 2
                if ops[i].ok {
                    let k = byReturn ? (ops[i].ret, i) : (ops[i].call, i)
                    if k > okKey && k < foundKey { found = e; foundKey = k }
                }
                e = Int(next[e])
            }
            if found >= 0 { okKey = foundKey }
            return found >= 0 ? found : nil
        }
        /// Undoes linearized calls up to and including the latest one that had alternatives; returns the
        /// entry to resume from and the pass it belongs to, or nil when there is none left.
        func backtrack() -> (entry: Int, infoPass: Bool)? {
            consumableValid = false
            while let top = calls.popLast() {
                let e = Int(top.entry)
                let i = e / 2
                state = top.state
                flip(i)
                setHash ^= zobrist[i]
                unlift(e)
                if !top.forced {
                    if ops[i].ok { okKey = byReturn ? (ops[i].ret, i) : (ops[i].call, i) }
                    return (Int(next[e]), !ops[i].ok)
                }
            }
            return nil
        }
        /// At a new configuration: a completed read the state allows, if one is callable.
        func forcedRead() -> Int? {
            var e = Int(next[head])
            while e >= 0 && e % 2 == 0 {
                let o = ops[e / 2]
                if o.ok && o.kind == .read && (o.hasValue ? (state.isSet && state.value == o.a) : !state.isSet) { return e }
                e = Int(next[e])
            }
            return nil
        }

        var entry = Int(next[head])
        var fresh = true              // `entry` is the first of a configuration not yet looked at
        // Each configuration's callable operations are tried in two passes: the completed ones, then the info
        // ones. An info operation is rarely what explains a result, and one spent early on a read that a
        // completed write also explains may be missed much later, after an exponential backtrack: a valid
        // history with many info operations took 35 s when they were tried in call order.
        var infoPass = false
        while true {
            steps += 1
            if steps & 1023 == 0 {
                if ContinuousClock.now > deadline { return .unknown("time limit reached after \(steps) search steps") }
                if steps > stepLimit { return .stepLimitReached }
                if cache.bytes > memoryLimit { return .unknown("memory limit reached (\(cache.bytes >> 20) MiB of memoised configurations)") }
            }
            if entry < 0 { return .linearizable }       // only pending info calls remain
            if fresh, let r = forcedRead() {
                if tryLinearize(r, forced: true) {
                    entry = Int(next[head])
                    okKey = firstKey
                    continue
                }
                // Its only continuation was seen before: this configuration fails.
                guard let resume = backtrack() else { return notLinearizable(best) }
                (entry, infoPass) = resume
                fresh = false
                continue
            }
            fresh = false
            if !infoPass {
                if let e = nextOk() {
                    if tryLinearize(e, forced: false) {
                        entry = Int(next[head])
                        fresh = true
                        okKey = firstKey
                    }
                } else {
                    infoPass = true
                    entry = Int(next[head])
                }
                continue
            }
            if entry % 2 == 0 {
                let i = entry / 2
                if ops[i].ok || (twin[i] >= 0 && !isLinearized(Int(twin[i]))) {
                    entry = Int(next[entry])
                    continue
                }
                if !ops[i].ok && ops[i].kind != .read {
                    if !consumableValid { computeConsumable() }
                    let produced = ops[i].kind == .write ? ops[i].a : ops[i].b
                    if !consumable.contains(produced) {
                        entry = Int(next[entry])
                        continue
                    }
                }
                if tryLinearize(entry, forced: false) {
                    entry = Int(next[head])
                    fresh = true
                    infoPass = false
                    okKey = firstKey
                    continue
                }
                entry = Int(next[entry])
            } else {
                if calls.count > best.depth {
                    best = (calls.count, calls.suffix(8).map { Int32($0.entry / 2) }, state, Int32(entry / 2))
                }
                guard let resume = backtrack() else { return notLinearizable(best) }
                (entry, infoPass) = resume
            }
        }
    }

    private func notLinearizable(_ best: (depth: Int, prefix: [Int32], state: RegisterState, blocked: Int32)) -> SearchResult {
        // Some return entry is always met before the search is exhausted; the fallback only avoids a trap.
        let blocked = best.blocked >= 0 ? ops[Int(best.blocked)].id : (ops.first { $0.ok }?.id ?? ops[0].id)
        return .notLinearizable(prefix: best.prefix.map { ops[Int($0)].id }, depth: max(0, best.depth),
                                state: best.state, blocked: blocked)
    }

    private func time(_ entry: Int32) -> Int64 {
        let op = ops[Int(entry / 2)]
        return entry % 2 == 0 ? op.call : op.ret
    }
}
