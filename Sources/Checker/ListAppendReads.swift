// Checks on what list-append transactions read, one read at a time: agreement with the key's version order
// (incompatible orders), internal consistency within a transaction, and lost updates. Also picks out the
// external reads (a key's first read in a transaction, before the transaction's own appends to it): only those
// tell what the transaction observed of others.

struct ExternalRead {
    var op: Int32
    var mop: Int32
    var key: Int32
}

enum ListAppendReads {
    /// Every ok read must be a prefix of its key's longest read; reads that are not get their own element checks.
    static func checkPrefixes(_ index: inout ListAppendIndex, _ log: inout AnomalyLog, _ reports: inout ElementReports) {
        let h = index.history
        h.elements.withUnsafeBufferPointer { elements in
            for (id, op) in h.operations.enumerated() where op.outcome == .ok && op.function == .txn {
                for m in op.mopRange where h.mops[m].kind == .read {
                    let k = Int(index.mopKey[m])
                    let longest = Int(index.longestRead[k])
                    if longest == m { continue }
                    let r = h.mops[m], l = h.mops[longest]
                    var diverge = -1
                    for i in 0..<Int(r.listCount) where elements[Int(r.listStart) + i] != elements[Int(l.listStart) + i] {
                        diverge = i
                        break
                    }
                    if diverge < 0 { continue }
                    index.incompatible[k] = true
                    let other = index.opOfMop(longest)
                    log.add("incompatible-order") {
                        Anomaly(type: "incompatible-order", operations: [id, other], key: r.key, explanation: [
                            h.introduce(id), h.introduce(other),
                            "\(h.name(id)) read key \(r.key) as \(h.listText(h.list(r))) and \(h.name(other)) read it as \(h.listText(h.list(l))): at position \(diverge + 1) one has \(elements[Int(r.listStart) + diverge]) and the other \(elements[Int(l.listStart) + diverge]), so no single order of appends explains both.",
                        ])
                    }
                    var seen = Set<Int64>()
                    for e in h.list(r) {
                        guard let a = index.append(key: Int32(k), element: e) else {
                            reports.garbage(index, &log, reader: id, mop: m, element: e)
                            continue
                        }
                        if h.operations[Int(index.appendOp[Int(a)])].outcome == .fail {
                            reports.aborted(index, &log, reader: id, mop: m, append: Int(a))
                        }
                        if !seen.insert(e).inserted { reports.duplicate(index, &log, reader: id, mop: m, element: e) }
                    }
                }
            }
        }
    }

    /// Within one transaction, a read must show the transaction's own earlier appends, after whatever it read
    /// before; and it cannot show an append the transaction makes only later.
    static func checkInternal(_ index: ListAppendIndex, _ log: inout AnomalyLog) {
        let h = index.history
        for (id, op) in h.operations.enumerated() where op.outcome == .ok && op.function == .txn && op.mopCount > 1 {
            let range = op.mopRange
            for i in range where h.mops[i].kind == .read {
                let r = h.mops[i]
                let read = Array(h.list(r))
                var base: [Int64]? = nil
                var own: [Int64] = []
                for j in range.lowerBound..<i where h.mops[j].key == r.key {
                    if h.mops[j].kind == .read { base = Array(h.list(h.mops[j])); own = [] } else { own.append(h.mops[j].a) }
                }
                var problem: String? = nil
                if let base {
                    if read != base + own {
                        problem = "after reading key \(r.key) as \(h.listText(base[...]))\(own.isEmpty ? "" : " and appending \(own.map(String.init).joined(separator: ", "))") it read \(h.listText(read[...])), not \(h.listText((base + own)[...]))"
                    }
                } else if !own.isEmpty && (read.count < own.count || Array(read.suffix(own.count)) != own) {
                    problem = "after appending \(own.map(String.init).joined(separator: ", ")) to key \(r.key) it read \(h.listText(read[...])), which does not end with its own appends"
                }
                if problem == nil {
                    for j in (i + 1)..<range.upperBound where h.mops[j].kind == .append && h.mops[j].key == r.key && read.contains(h.mops[j].a) {
                        problem = "it read key \(r.key) as \(h.listText(read[...])), which holds \(h.mops[j].a), an element it appends only later"
                        break
                    }
                }
                if let problem {
                    log.add("internal") {
                        Anomaly(type: "internal", operations: [id], key: r.key, explanation: [
                            h.introduce(id), "\(h.name(id)) is internally inconsistent: \(problem).",
                        ])
                    }
                    break
                }
            }
        }
    }

    /// The first read of each key in each ok transaction, if it comes before the transaction's own appends to it.
    static func externalReads(_ index: ListAppendIndex) -> [ExternalRead] {
        let h = index.history
        var out: [ExternalRead] = []
        out.reserveCapacity(h.mops.count / 2)
        for (id, op) in h.operations.enumerated() where op.outcome == .ok && op.function == .txn {
            let range = op.mopRange
            for i in range where h.mops[i].kind == .read {
                let k = index.mopKey[i]
                var first = true
                for j in range.lowerBound..<i where index.mopKey[j] == k { first = false; break }
                if first { out.append(ExternalRead(op: Int32(id), mop: Int32(i), key: k)) }
            }
        }
        return out
    }

    /// A transaction's appends to one key are atomic and in program order, so in the version order they sit
    /// side by side in that order. The longest read of a key must not show a transaction's later append
    /// without the earlier one right before it, nor show more after an append than the same transaction's
    /// next append. (A third transaction's element between two of them is left to the ww cycle it makes,
    /// and a read that ends between them to G1b.)
    static func checkOwnAppendOrder(_ index: ListAppendIndex, _ log: inout AnomalyLog) {
        let h = index.history
        for (id, op) in h.operations.enumerated() where op.outcome != .fail && op.function == .txn && op.mopCount > 1 {
            let range = op.mopRange
            for m in range where h.mops[m].kind == .append {
                let k = index.mopKey[m]
                guard !index.incompatible[Int(k)], index.longestRead[Int(k)] >= 0,
                      let n = (m + 1..<range.upperBound).first(where: { h.mops[$0].kind == .append && index.mopKey[$0] == k }),
                      let first = index.append(key: k, element: h.mops[m].a), let second = index.append(key: k, element: h.mops[n].a)
                else { continue }
                let p1 = Int(index.position[Int(first)]), p2 = Int(index.position[Int(second)])
                let count = index.orderCount(Int(k))
                let broken: Bool
                if p1 >= 0 && p2 >= 0 { broken = p2 < p1 }
                else if p2 >= 0 { broken = true }
                else if p1 >= 0 { broken = p1 + 1 < count }
                else { broken = false }
                guard broken else { continue }
                let reader = index.opOfMop(Int(index.longestRead[Int(k)]))
                let key = h.mops[m].key, e1 = h.mops[m].a, e2 = h.mops[n].a
                let list = h.list(h.mops[Int(index.longestRead[Int(k)])])
                let shows = p1 >= 0 && p2 >= 0 ? "\(e2) before \(e1)" : p2 >= 0 ? "\(e2) without \(e1)" : "\(e1) followed by other elements, without \(e2)"
                log.add("incompatible-order") {
                    Anomaly(type: "incompatible-order", operations: [id, reader], key: key, explanation: [
                        h.introduce(id), h.introduce(reader),
                        "\(h.name(id)) appended \(e1) and then \(e2) to key \(key) in one transaction, so \(e2) comes right after \(e1) in that key's version order; but \(h.name(reader)) read key \(key) as \(h.listText(list)), which shows \(shows).",
                    ])
                }
            }
        }
    }

    /// Two committed transactions that read the same version of a key and both appended to it: whichever
    /// came second did not see the other's append.
    static func checkLostUpdates(_ index: ListAppendIndex, _ external: [ExternalRead], _ log: inout AnomalyLog) {
        let h = index.history
        var candidates: [(key: Int32, length: Int32, op: Int32, mop: Int32)] = []
        for r in external where !index.incompatible[Int(r.key)] {
            let op = h.operations[Int(r.op)]
            if op.mopRange.contains(where: { h.mops[$0].kind == .append && index.mopKey[$0] == r.key }) {
                candidates.append((r.key, h.mops[Int(r.mop)].listCount, r.op, r.mop))
            }
        }
        candidates.sort { ($0.key, $0.length, $0.op) < ($1.key, $1.length, $1.op) }
        var i = 0
        while i < candidates.count {
            var j = i + 1
            while j < candidates.count && candidates[j].key == candidates[i].key && candidates[j].length == candidates[i].length { j += 1 }
            if j - i >= 2 {
                let group = Array(candidates[i..<j])
                let key = h.mops[Int(group[0].mop)].key
                log.add("lost-update") {
                    let ops = group.map { Int($0.op) }
                    let appended = ops.map { op in
                        "\(h.name(op)) appended \(h.operations[op].mopRange.filter { h.mops[$0].kind == .append && h.mops[$0].key == key }.map { String(h.mops[$0].a) }.joined(separator: ", "))"
                    }
                    return Anomaly(type: "lost-update", operations: ops, key: key, explanation: ops.map { h.introduce($0) } + [
                        "\(ops.map { h.name($0) }.joined(separator: ", ")) all read key \(key) as \(h.listText(h.list(h.mops[Int(group[0].mop)]))) and then appended to it (\(appended.joined(separator: "; "))): each committed, so all but one missed another's append: a lost update.",
                    ])
                }
            }
            i = j
        }
    }
}
