// The set model (adds of unique elements, whole-set reads), checked for linearizability as Jepsen's set-full
// checker does: once an element is known to be in the set (its add completed, or a read showed it), every
// read that begins afterwards must show it.

enum SetChecker {
    static let invalidTypes = ["lost", "stale-read", "unexpected", "duplicate"]

    static func check(_ h: History, options: CheckOptions) throws(HistoryError) -> (AnomalyLog, [String]) {
        var log = AnomalyLog(limit: options.maxReportedPerType)
        var notes: [String] = []
        var ids = Int64Map(capacity: 1024)
        var element: [Int64] = []
        var adder: [Int32] = []
        for (id, op) in h.operations.enumerated() where op.function == .add {
            let e = h.mops[Int(op.mopStart)].a
            let d = ids.intern(e, next: Int32(element.count))
            guard Int(d) == element.count else {
                throw HistoryError(line: Int(op.invokeLine), "element \(e) is added again (first on line \(h.operations[Int(adder[Int(d)])].invokeLine)); set elements are unique (HISTORY.md)")
            }
            element.append(e)
            adder.append(Int32(id))
        }
        let reads = h.operations.indices.filter { h.operations[$0].function == .read && h.operations[$0].outcome == .ok }
        // Per element: positions (in `reads`) of the reads that show it, ascending.
        var shownBy: [[Int32]] = Array(repeating: [], count: element.count)
        var unexpected: [Int64: Int] = [:]
        for (p, r) in reads.enumerated() {
            var seen = Set<Int64>()
            var repeated: [Int64] = []
            for e in h.list(h.mops[Int(h.operations[r].mopStart)]) {
                if !seen.insert(e).inserted { repeated.append(e); continue }
                if let d = ids.get(e), h.operations[Int(adder[Int(d)])].outcome != .fail {
                    shownBy[Int(d)].append(Int32(p))
                } else if unexpected[e] == nil {
                    unexpected[e] = r
                }
            }
            if !repeated.isEmpty {
                log.add("duplicate") {
                    Anomaly(type: "duplicate", operations: [r], explanation: [
                        h.introduce(r), "\(h.name(r)) shows \(repeated.map(String.init).joined(separator: ", ")) more than once; each was added once.",
                    ])
                }
            }
        }
        for (e, r) in unexpected.sorted(by: { $0.value < $1.value }) {
            log.add("unexpected") {
                if let d = ids.get(e) {
                    let a = Int(adder[Int(d)])
                    return Anomaly(type: "unexpected", operations: [a, r], explanation: [
                        h.introduce(a), h.introduce(r),
                        "\(h.name(r)) shows \(e), but the only add of \(e), \(h.name(a)), failed (certainly did not happen).",
                    ])
                }
                return Anomaly(type: "unexpected", operations: [r], explanation: [
                    h.introduce(r), "\(h.name(r)) shows \(e), which no operation ever added.",
                ])
            }
        }

        var missing: [Int: [(element: Int64, known: Int, why: String)]] = [:]   // stale reads, by read
        var neverRead = 0
        for d in 0..<element.count {
            let a = Int(adder[d])
            let add = h.operations[a]
            guard add.outcome != .fail else { continue }
            // When the element is known present: its add's completion, or the completion of the first read showing it.
            var known = add.outcome == .ok ? add.completeIndex : Int64.max
            var knownBy = a
            if let first = shownBy[d].first, h.operations[reads[Int(first)]].completeIndex < known {
                known = h.operations[reads[Int(first)]].completeIndex
                knownBy = reads[Int(first)]
            }
            guard known != Int64.max else { continue }
            // Reads that began after that (reads are in invocation order).
            var lo = 0, hi = reads.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if h.operations[reads[mid]].invokeIndex > known { hi = mid } else { lo = mid + 1 }
            }
            let later = lo
            if later == reads.count {
                if shownBy[d].isEmpty { neverRead += 1 }
                continue
            }
            let shown = Set(shownBy[d].filter { Int($0) >= later })
            let why = knownBy == a ? "its add \(h.name(a)) completed at line \(add.completeLine)"
                : "\(h.name(knownBy)) showed it, completing at line \(h.operations[knownBy].completeLine)"
            if shown.isEmpty {
                let first = reads[later]
                log.add("lost") {
                    Anomaly(type: "lost", operations: [a, first], explanation: [
                        h.introduce(a),
                        "\(element[d]) was known to be in the set (\(why)), yet none of the \(reads.count - later) reads that began afterwards shows it (the first is \(h.name(first)), invoked at line \(h.operations[first].invokeLine)): lost.",
                    ])
                }
                continue
            }
            // Shown after it was known, then gone for good: every read that began after the last read showing
            // it completed misses it (Jepsen's set-full calls this lost too; misses before are stale reads).
            let last = Int(shownBy[d].last!)
            var gone = last + 1
            while gone < reads.count && h.operations[reads[gone]].invokeIndex < h.operations[reads[last]].completeIndex { gone += 1 }
            if gone < reads.count {
                let first = reads[gone], lastShow = reads[last]
                log.add("lost") {
                    Anomaly(type: "lost", operations: [a, lastShow, first], explanation: [
                        h.introduce(a),
                        "\(element[d]) was known to be in the set (\(why)), and reads showed it up to \(h.name(lastShow)) (completing at line \(h.operations[lastShow].completeLine)), yet none of the \(reads.count - gone) reads that began afterwards shows it (the first is \(h.name(first)), invoked at line \(h.operations[first].invokeLine)): lost.",
                    ])
                }
            }
            for p in later..<min(gone, reads.count) where !shown.contains(Int32(p)) {
                missing[reads[p], default: []].append((element[d], a, why))
            }
        }
        for r in missing.keys.sorted() {
            let list = missing[r]!
            log.add("stale-read") {
                let shown = list.prefix(5).map { "\($0.element) (\($0.why))" }.joined(separator: "; ")
                return Anomaly(type: "stale-read", operations: [r] + list.prefix(5).map(\.known), explanation: [
                    h.introduce(r),
                    "\(h.name(r)) began at line \(h.operations[r].invokeLine), after these elements were known to be in the set, yet does not show them, though later reads do: \(shown)\(list.count > 5 ? " and \(list.count - 5) more" : ""). A linearizable set cannot return them and then forget them.",
                ])
            }
        }
        if neverRead > 0 { notes.append("\(neverRead) acknowledged element(s) never read: no read began after their add completed") }
        return (log, notes)
    }
}
