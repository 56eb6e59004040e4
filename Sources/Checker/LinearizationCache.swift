// The memo of configurations the linearizability search has explored, with subsumption on info operations.
//
// A configuration is (completed operations linearized, info operations used, state). Info operations are
// optional, so a configuration that has used more of them, with the same completed set and state, can do
// nothing that one which used fewer cannot (the spare ones may simply never happen). So a configuration is
// skipped when one with the same completed set and state and a subset of its info operations was seen: that
// one has failed, or is an ancestor still being explored whose own continuations cover this one's (an
// ancestor with the same completed set differs only by info operations used since). Exact repeats are the
// case where the subset is equal.

struct LinearizationCache {
    let okWords: Int
    let infoWords: Int
    /// Per group: the completed set's words, the state's flags, the state's value.
    private var groups: [UInt64] = []
    /// Per group: its first info set, or -1.
    private var firstInfo: [Int32] = []
    /// Per info set: its words; and the next info set of the same group, or -1.
    private var infoSets: [UInt64] = []
    private var nextInfo: [Int32] = []
    private var table: [Int32]
    private var hashes: [UInt64]
    private var count = 0

    init(okWords: Int, infoWords: Int) {
        self.okWords = okWords
        self.infoWords = infoWords
        table = Array(repeating: -1, count: 1 << 12)
        hashes = Array(repeating: 0, count: 1 << 12)
    }

    /// What the memo holds, counting the arrays' reserved capacity (growth doubles it), not just their use.
    var bytes: Int {
        groups.capacity * 8 + firstInfo.capacity * 4 + infoSets.capacity * 8 + nextInfo.capacity * 4
            + table.capacity * 4 + hashes.capacity * 8
    }

    /// Records the configuration; false if it is subsumed by one already recorded. `hash` covers the
    /// completed set and the state only.
    mutating func insert(ok: [UInt64], info: [UInt64], hash: UInt64, state: RegisterState) -> Bool {
        if (count + 1) * 2 > table.count { grow() }
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let stride = okWords + 2
        while table[slot] >= 0 {
            let g = Int(table[slot])
            if hashes[slot] == hash && sameGroup(g * stride, ok: ok, state: state) {
                var e = firstInfo[g]
                while e >= 0 {
                    if isSubset(Int(e) * infoWords, of: info) { return false }
                    e = nextInfo[Int(e)]
                }
                addInfo(info, group: g)
                return true
            }
            slot = (slot + 1) & mask
        }
        table[slot] = Int32(count)
        hashes[slot] = hash
        groups.append(contentsOf: ok)
        groups.append(state.flags)
        groups.append(UInt64(bitPattern: state.value))
        firstInfo.append(-1)
        addInfo(info, group: count)
        count += 1
        return true
    }

    @inline(__always) private func sameGroup(_ base: Int, ok: [UInt64], state: RegisterState) -> Bool {
        guard groups[base + okWords] == state.flags, groups[base + okWords + 1] == UInt64(bitPattern: state.value) else { return false }
        for w in 0..<okWords where groups[base + w] != ok[w] { return false }
        return true
    }

    @inline(__always) private func isSubset(_ base: Int, of info: [UInt64]) -> Bool {
        for w in 0..<infoWords where infoSets[base + w] & ~info[w] != 0 { return false }
        return true
    }

    private mutating func addInfo(_ info: [UInt64], group g: Int) {
        infoSets.append(contentsOf: info)
        nextInfo.append(firstInfo[g])
        firstInfo[g] = Int32(nextInfo.count - 1)
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
