// Infers the dependency edges of a list-append history. Only what the observations prove becomes an edge:
// an `info` transaction gets a ww/wr/rw edge only through an append some read shows (so it happened), and
// never through reads (an info's reads are unknown). Keys whose reads disagree, or repeat an element, give no
// version-order edges (they are already reported, and their order cannot be trusted).
//
// Nodes are the operations, plus one node per key standing for "after everything read of the key": a
// committed append (of an ok transaction, or of an info one a read proves happened) that no read shows comes after every element read (reads are prefixes of the version order), so
// the writer of the last element read and the readers of the whole list precede it. One node per key keeps
// those edges linear in number instead of readers × appenders.

struct ListAppendGraph {
    var edges = EdgeList()
    let operationCount: Int
    var nodeCount: Int { operationCount + keyCount }
    let keyCount: Int
    /// For G1b: reads that saw a transaction's intermediate append.
    var intermediateReads: [(reader: Int32, mop: Int32, append: Int32)] = []

    init(_ index: ListAppendIndex, external: [ExternalRead], realtime: Bool) {
        let h = index.history
        operationCount = h.operations.count
        keyCount = index.keyValue.count
        edges.from.reserveCapacity(h.operations.count * (realtime ? 8 : 3))
        edges.to.reserveCapacity(h.operations.count * (realtime ? 8 : 3))
        edges.kind.reserveCapacity(h.operations.count * (realtime ? 8 : 3))
        readEdges(index, external)
        writeEdges(index)
        if realtime {
            processEdges(h)
            realtimeEdges(h)
        }
    }

    @inline(__always) private func usable(_ index: ListAppendIndex, _ k: Int) -> Bool {
        !index.incompatible[k] && !index.repeats[k]
    }

    /// wr (the writer of a read's last element precedes the reader), rw (a reader precedes the writer of the
    /// element after what it read), and the "after everything read" edges.
    private mutating func readEdges(_ index: ListAppendIndex, _ external: [ExternalRead]) {
        let h = index.history
        var readersAtEnd: [[Int32]] = Array(repeating: [], count: keyCount)
        h.elements.withUnsafeBufferPointer { elements in
            for r in external {
                let m = h.mops[Int(r.mop)]
                let k = Int(r.key)
                let len = Int(m.listCount)
                if len > 0, let a = index.append(key: r.key, element: elements[Int(m.listStart) + len - 1]) {
                    let writer = index.appendOp[Int(a)]
                    if writer != r.op && h.operations[Int(writer)].outcome != .fail {
                        edges.add(writer, r.op, EdgeKind.wr)
                        let wm = Int(index.appendMop[Int(a)])
                        let wop = h.operations[Int(writer)]
                        if (wm + 1..<wop.mopRange.upperBound).contains(where: { h.mops[$0].kind == .append && index.mopKey[$0] == r.key }) {
                            intermediateReads.append((r.op, r.mop, a))
                        }
                    }
                }
                guard usable(index, k) else { continue }
                if len < index.orderCount(k) {
                    let next = index.order[Int(index.orderStart[k]) + len]
                    if next >= 0 && index.appendOp[Int(next)] != r.op { edges.add(r.op, index.appendOp[Int(next)], EdgeKind.rw) }
                } else {
                    readersAtEnd[k].append(r.op)
                }
            }
        }
        // Committed transactions: ok ones, and info ones some read shows an append of (they happened, so all
        // of their appends did).
        var committed = h.operations.map { $0.outcome == .ok }
        for a in 0..<index.appendOp.count where index.position[a] >= 0 { committed[Int(index.appendOp[a])] = true }
        // Committed appends that no read shows, per key.
        var unread: [[Int32]] = Array(repeating: [], count: keyCount)
        for a in 0..<index.appendOp.count where index.position[a] < 0 {
            let k = Int(index.appendKey[a])
            if index.longestRead[k] >= 0 && usable(index, k) && committed[Int(index.appendOp[a])] {
                unread[k].append(index.appendOp[a])
            }
        }
        var mark = Array(repeating: Int32(-1), count: operationCount)
        for k in 0..<keyCount where !unread[k].isEmpty {
            var sources: [(op: Int32, kind: UInt8)] = readersAtEnd[k].map { ($0, EdgeKind.rw) }
            let count = index.orderCount(k)
            if count > 0 {
                let last = index.order[Int(index.orderStart[k]) + count - 1]
                if last >= 0 { sources.append((index.appendOp[Int(last)], EdgeKind.ww)) }
            }
            if sources.isEmpty { continue }
            for u in unread[k] { mark[Int(u)] = Int32(k) }
            if sources.contains(where: { mark[Int($0.op)] == Int32(k) }) {
                // A transaction both among the sources and the unread appenders: direct edges, minus self-loops.
                for s in sources {
                    for u in unread[k] where u != s.op { edges.add(s.op, u, s.kind) }
                }
            } else {
                let x = Int32(operationCount + k)
                for s in sources { edges.add(s.op, x, s.kind) }
                for u in unread[k] { edges.add(x, u, EdgeKind.ww) }
            }
        }
    }

    /// ww: consecutive elements of a key's version order, appended by different transactions.
    private mutating func writeEdges(_ index: ListAppendIndex) {
        for k in 0..<keyCount where usable(index, k) {
            let start = Int(index.orderStart[k]), count = index.orderCount(k)
            guard count > 1 else { continue }
            for p in start..<(start + count - 1) {
                let a = index.order[p], b = index.order[p + 1]
                guard a >= 0, b >= 0 else { continue }
                let wa = index.appendOp[Int(a)], wb = index.appendOp[Int(b)]
                if wa != wb { edges.add(wa, wb, EdgeKind.ww) }
            }
        }
    }

    /// Each process's operations in order (skipping failed ones, which did not happen).
    private mutating func processEdges(_ h: History) {
        var last = Int64Map(capacity: 256)
        for (id, op) in h.operations.enumerated() where op.outcome != .fail {
            if let prev = last.get(op.process) { edges.add(prev, Int32(id), EdgeKind.process) }
            if op.outcome == .ok { last.set(op.process, Int32(id)) }
        }
    }

    /// Realtime order, transitively reduced as Elle does: an invocation gets edges from the "frontier" (ok
    /// operations completed so far that no later-completed operation already follows). Only completed ok
    /// operations join the frontier: an info never completed, and a failed one did not happen.
    private mutating func realtimeEdges(_ h: History) {
        let n = h.operations.count
        var completions = (0..<n).filter { h.operations[$0].outcome == .ok }.map(Int32.init)
        completions.sort { h.operations[Int($0)].completeIndex < h.operations[Int($1)].completeIndex }
        var predStart = Array(repeating: Int32(0), count: n)
        var predEnd = Array(repeating: Int32(0), count: n)
        var inFrontier = Array(repeating: false, count: n)
        var frontier: [Int32] = []
        var c = 0
        for id in 0..<n where h.operations[id].outcome != .fail {
            let invoked = h.operations[id].invokeIndex
            while c < completions.count && h.operations[Int(completions[c])].completeIndex < invoked {
                let done = Int(completions[c])
                for e in Int(predStart[done])..<Int(predEnd[done]) { inFrontier[Int(edges.from[e])] = false }
                inFrontier[done] = true
                frontier.append(Int32(done))
                c += 1
            }
            frontier.removeAll { !inFrontier[Int($0)] }
            predStart[id] = Int32(edges.count)
            for p in frontier { edges.add(p, Int32(id), EdgeKind.realtime) }
            predEnd[id] = Int32(edges.count)
        }
    }
}
