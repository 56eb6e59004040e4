// The facts a list-append check is built on: dense ids for keys and appends, which transaction wrote each
// element, and each key's version order as revealed by its reads. Traceability (a read shows the whole list)
// means the longest read of a key is a prefix of its version order, and every other read must be a prefix of
// it; recoverability (an element is appended once) means each element names exactly one writer.

struct ListAppendIndex {
    let history: History
    /// Key id of every micro-operation (txn operations only; others hold -1).
    var mopKey: [Int32]
    var keyValue: [Int64] = []
    /// Per append id: the transaction, its micro-operation, key id and element.
    var appendOp: [Int32] = []
    var appendMop: [Int32] = []
    var appendKey: [Int32] = []
    var appendElement: [Int64] = []
    var appendByElement: PairMap
    /// Per key: the micro-operation of its longest ok read (-1: never read), and its version order: the append
    /// ids of that read's elements, -1 where an element has no legitimate writer (garbage, or a failed txn).
    var longestRead: [Int32] = []
    var orderStart: [Int32] = []
    var order: [Int32] = []
    /// Per append id: its position in its key's version order, -1 when no read shows it.
    var position: [Int32] = []
    /// Keys whose reads disagree (no version order can be trusted), or whose longest read repeats an element.
    var incompatible: [Bool] = []
    var repeats: [Bool] = []

    @inline(__always) func orderCount(_ key: Int) -> Int {
        longestRead[key] < 0 ? 0 : Int(history.mops[Int(longestRead[key])].listCount)
    }

    /// Indexes keys and appends; a second append of the same element to a key breaks the format's contract
    /// (recoverability), so it is an input error rather than an anomaly.
    init(_ history: History) throws(HistoryError) {
        self.history = history
        mopKey = Array(repeating: -1, count: history.mops.count)
        var keys = Int64Map(capacity: 1024)
        var appends = 0
        for op in history.operations {
            for m in op.mopRange {
                let k = keys.intern(history.mops[m].key, next: Int32(keyValue.count))
                if Int(k) == keyValue.count { keyValue.append(history.mops[m].key) }
                mopKey[m] = k
                if history.mops[m].kind == .append { appends += 1 }
            }
        }
        appendByElement = PairMap(capacity: appends)
        appendOp.reserveCapacity(appends)
        appendMop.reserveCapacity(appends)
        appendKey.reserveCapacity(appends)
        appendElement.reserveCapacity(appends)
        for (id, op) in history.operations.enumerated() {
            for m in op.mopRange where history.mops[m].kind == .append {
                let a = Int32(appendOp.count)
                if let earlier = appendByElement.insert(mopKey[m], history.mops[m].a, a) {
                    let first = history.operations[Int(appendOp[Int(earlier)])]
                    throw HistoryError(line: Int(op.invokeLine), "element \(history.mops[m].a) is appended to key \(history.mops[m].key) again (first on line \(first.invokeLine)); an element is appended to a key at most once (HISTORY.md)")
                }
                appendOp.append(Int32(id))
                appendMop.append(Int32(m))
                appendKey.append(mopKey[m])
                appendElement.append(history.mops[m].a)
            }
        }
        position = Array(repeating: -1, count: appendOp.count)
        incompatible = Array(repeating: false, count: keyValue.count)
        repeats = Array(repeating: false, count: keyValue.count)
        longestRead = Array(repeating: -1, count: keyValue.count)
        for op in history.operations where op.outcome == .ok {
            for m in op.mopRange where history.mops[m].kind == .read {
                let k = Int(mopKey[m])
                if longestRead[k] < 0 || history.mops[m].listCount > history.mops[Int(longestRead[k])].listCount {
                    longestRead[k] = Int32(m)
                }
            }
        }
    }

    /// The append that wrote `element` to key id `key`, if any.
    @inline(__always) func append(key: Int32, element: Int64) -> Int32? { appendByElement.get(key, element) }

    /// Builds every key's version order from its longest read, reporting elements nothing legitimately wrote
    /// (garbage, aborted reads) and elements read twice.
    mutating func buildVersionOrders(_ log: inout AnomalyLog, _ reported: inout ElementReports) {
        orderStart = Array(repeating: 0, count: keyValue.count + 1)
        var total = 0
        for k in 0..<keyValue.count {
            orderStart[k] = Int32(total)
            total += orderCount(k)
        }
        orderStart[keyValue.count] = Int32(total)
        order = Array(repeating: -1, count: total)
        for k in 0..<keyValue.count where longestRead[k] >= 0 {
            let m = Int(longestRead[k])
            let reader = opOfMop(m)
            let list = history.list(history.mops[m])
            var p = Int(orderStart[k])
            for (i, e) in zip(0..., list) {
                defer { p += 1 }
                guard let a = append(key: Int32(k), element: e) else {
                    reported.garbage(self, &log, reader: reader, mop: m, element: e)
                    continue
                }
                if history.operations[Int(appendOp[Int(a)])].outcome == .fail {
                    reported.aborted(self, &log, reader: reader, mop: m, append: Int(a))
                    continue
                }
                if position[Int(a)] >= 0 {
                    repeats[k] = true
                    reported.duplicate(self, &log, reader: reader, mop: m, element: e)
                    continue
                }
                position[Int(a)] = Int32(i)
                order[p] = a
            }
        }
    }

    /// Operation id owning micro-operation `m` (binary search: operations hold ascending mop ranges).
    func opOfMop(_ m: Int) -> Int {
        var lo = 0, hi = history.operations.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if Int(history.operations[mid].mopStart) <= m { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

/// Reports about single elements (garbage, aborted, duplicated reads), each (key, element) reported once.
struct ElementReports {
    mutating func garbage(_ index: ListAppendIndex, _ log: inout AnomalyLog, reader: Int, mop: Int, element: Int64) {
        let h = index.history
        let key = h.mops[mop].key
        guard seenOnce("garbage", key, element) else { return }
        log.add("garbage-read") {
            Anomaly(type: "garbage-read", operations: [reader], key: key, explanation: [
                h.introduce(reader),
                "\(h.name(reader)) read key \(key) as \(h.listText(h.list(h.mops[mop]))), which holds \(element), but no transaction ever appended \(element) to key \(key).",
            ])
        }
    }

    mutating func aborted(_ index: ListAppendIndex, _ log: inout AnomalyLog, reader: Int, mop: Int, append a: Int) {
        let h = index.history
        let key = h.mops[mop].key
        let element = index.appendElement[a]
        guard seenOnce("G1a", key, element) else { return }
        let writer = Int(index.appendOp[a])
        log.add("G1a") {
            Anomaly(type: "G1a", operations: [writer, reader], key: key, explanation: [
                h.introduce(writer), h.introduce(reader),
                "\(h.name(reader)) read key \(key) as \(h.listText(h.list(h.mops[mop]))), which holds \(element); only \(h.name(writer)) appended \(element) to key \(key), and it failed (certainly did not happen): an aborted read.",
            ])
        }
    }

    mutating func duplicate(_ index: ListAppendIndex, _ log: inout AnomalyLog, reader: Int, mop: Int, element: Int64) {
        let h = index.history
        let key = h.mops[mop].key
        guard seenOnce("duplicate", key, element) else { return }
        log.add("duplicate-elements") {
            Anomaly(type: "duplicate-elements", operations: [reader], key: key, explanation: [
                h.introduce(reader),
                "\(h.name(reader)) read key \(key) as \(h.listText(h.list(h.mops[mop]), limit: 40)), which holds \(element) more than once; it was appended once.",
            ])
        }
    }

    // Only anomalous elements get here, so a set of small strings costs nothing that matters.
    private var seenKeys = Set<String>()
    private mutating func seenOnce(_ kind: String, _ key: Int64, _ element: Int64) -> Bool {
        seenKeys.insert("\(kind) \(key) \(element)").inserted
    }
}
