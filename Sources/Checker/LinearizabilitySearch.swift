// Linearizability of one register (read / write / cas) by the Wing & Gong search with Lowe's memoisation,
// as Porcupine does it: walk a linked list of call and return entries, linearize a pending call when the
// model allows it and the (linearized set, state) pair is new, backtrack at a return whose operation is not
// linearized yet. An `info` operation has no return entry: it may take effect at any time after its call,
// or never, so the search succeeds once every completed operation is linearized.

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

    static let initial = RegisterState(isSet: false, value: 0)

    var hash: UInt64 { isSet ? mixHash(UInt64(bitPattern: value) ^ 0x5555) : 0x1234_5678 }

    /// The state after `op`, or nil if `op` cannot take effect in this state.
    @inline(__always) func step(_ op: RegisterOp) -> RegisterState? {
        switch op.kind {
        case .read:
            return (op.hasValue ? (isSet && value == op.a) : !isSet) ? self : nil
        case .write:
            return RegisterState(isSet: true, value: op.a)
        case .cas:
            return isSet && value == op.a ? RegisterState(isSet: true, value: op.b) : nil
        default:
            return nil
        }
    }
}

enum SearchResult {
    case linearizable
    /// Deepest partial linearization reached (its last operations, oldest first), the state after it, and
    /// the operation whose return could not be passed.
    case notLinearizable(prefix: [Int32], depth: Int, state: RegisterState, blocked: Int32)
    case unknown(String)
}

struct LinearizabilitySearch {
    let ops: [RegisterOp]
    let deadline: ContinuousClock.Instant
    let memoryLimit: Int

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

        var zobrist = [UInt64](repeating: 0, count: n)
        for i in 0..<n { zobrist[i] = mixHash(UInt64(i) &+ 0xABCD_EF01) }
        let words = (n + 63) / 64
        var linearized = [UInt64](repeating: 0, count: words)
        var setHash: UInt64 = 0
        var cache = LinearizationCache(words: words)
        var state = RegisterState.initial
        var calls: [(entry: Int32, state: RegisterState)] = []
        var best = (depth: -1, prefix: [Int32](), state: RegisterState.initial, blocked: Int32(-1))
        var steps = 0

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

        var entry = Int(next[head])
        while true {
            steps += 1
            if steps & 1023 == 0 {
                if ContinuousClock.now > deadline { return .unknown("time limit reached after \(steps) search steps") }
                if cache.bytes > memoryLimit { return .unknown("memory limit reached (\(cache.bytes >> 20) MiB of memoised configurations)") }
            }
            if entry < 0 { return .linearizable }       // only pending info calls remain
            if entry % 2 == 0 {
                let i = entry / 2
                if twin[i] >= 0 && linearized[Int(twin[i]) >> 6] & (1 << (UInt64(twin[i]) & 63)) == 0 {
                    entry = Int(next[entry])
                    continue
                }
                if let after = state.step(ops[i]) {
                    linearized[i >> 6] |= 1 << (UInt64(i) & 63)
                    let h = setHash ^ zobrist[i]
                    if cache.insert(linearized, hash: h ^ after.hash, state: after) {
                        calls.append((Int32(entry), state))
                        setHash = h
                        state = after
                        lift(entry)
                        entry = Int(next[head])
                        continue
                    }
                    linearized[i >> 6] &= ~(1 << (UInt64(i) & 63))
                }
                entry = Int(next[entry])
            } else {
                if calls.count > best.depth {
                    best = (calls.count, calls.suffix(8).map { Int32($0.entry / 2) }, state, Int32(entry / 2))
                }
                guard let top = calls.popLast() else {
                    return .notLinearizable(prefix: best.prefix.map { ops[Int($0)].id }, depth: best.depth,
                                            state: best.state, blocked: ops[Int(best.blocked)].id)
                }
                let e = Int(top.entry)
                let i = e / 2
                state = top.state
                linearized[i >> 6] &= ~(1 << (UInt64(i) & 63))
                setHash ^= zobrist[i]
                unlift(e)
                entry = Int(next[e])
            }
        }
    }

    private func time(_ entry: Int32) -> Int64 {
        let op = ops[Int(entry / 2)]
        return entry % 2 == 0 ? op.call : op.ret
    }
}

/// The memo of (linearized set, state) configurations already explored, in flat arrays: each entry is the
/// bitset's words followed by the state, found through an open-addressing table of entry numbers.
struct LinearizationCache {
    let words: Int
    private var arena: [UInt64] = []
    private var table: [Int32]
    private var hashes: [UInt64]
    private var count = 0

    init(words: Int) {
        self.words = words
        table = Array(repeating: -1, count: 1 << 12)
        hashes = Array(repeating: 0, count: 1 << 12)
    }

    /// What the memo holds, counting the arrays' reserved capacity (growth doubles it), not just their use.
    var bytes: Int { arena.capacity * 8 + table.capacity * 4 + hashes.capacity * 8 }

    /// Inserts the configuration; false if it was already there.
    mutating func insert(_ set: [UInt64], hash: UInt64, state: RegisterState) -> Bool {
        if (count + 1) * 2 > table.count { grow() }
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let stride = words + 2
        while table[slot] >= 0 {
            if hashes[slot] == hash {
                let base = Int(table[slot]) * stride
                var same = arena[base + words] == (state.isSet ? 1 : 0) && arena[base + words + 1] == UInt64(bitPattern: state.value)
                if same {
                    for w in 0..<words where arena[base + w] != set[w] { same = false; break }
                }
                if same { return false }
            }
            slot = (slot + 1) & mask
        }
        table[slot] = Int32(count)
        hashes[slot] = hash
        arena.append(contentsOf: set)
        arena.append(state.isSet ? 1 : 0)
        arena.append(UInt64(bitPattern: state.value))
        count += 1
        return true
    }

    private mutating func grow() {
        let oldTable = table, oldHashes = hashes
        table = Array(repeating: -1, count: oldTable.count * 2)
        hashes = Array(repeating: 0, count: oldTable.count * 2)
        let mask = table.count - 1
        for s in 0..<oldTable.count where oldTable[s] >= 0 {
            var slot = Int(truncatingIfNeeded: oldHashes[s]) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = oldTable[s]
            hashes[slot] = oldHashes[s]
        }
    }
}
