// Turns a witness cycle into sentences: for each edge, which key and which elements make it exist. Edges do
// not carry their reasons (there are millions); the reason is found again here from the two transactions,
// which are small. A step through a key's "after everything read" node becomes one derived step.

struct ListAppendExplainer {
    let index: ListAppendIndex

    private var h: History { index.history }

    func explain(_ cycle: Cycle, _ g: DependencyGraph, type: String) -> Anomaly {
        let n = h.operations.count
        var steps: [CycleStep] = []
        var i = 0
        let count = cycle.edges.count
        // Start at a real operation so merged steps never wrap around the start.
        let offset = (0..<count).first { Int(cycle.nodes[$0]) < n } ?? 0
        while i < count {
            let p = (i + offset) % count
            let from = Int(cycle.nodes[p])
            let kind = g.kinds[Int(cycle.edges[p])]
            let next = Int(cycle.nodes[(p + 1) % count])
            if next >= n {
                let to = Int(cycle.nodes[(p + 2) % count])
                steps.append(CycleStep(from: from, to: to, edge: EdgeKind.name(kind), why: unread(from, to, key: next - n, kind: kind)))
                i += 2
            } else {
                steps.append(CycleStep(from: from, to: next, edge: EdgeKind.name(kind), why: reason(from, next, kind)))
                i += 1
            }
        }
        let ops = steps.map(\.from)
        var lines = ops.map { "Let \(h.introduce($0))." }
        lines.append("Then:")
        for (k, s) in steps.enumerated() {
            let last = k == steps.count - 1
            lines.append("- \(h.name(s.from)) < \(h.name(s.to)) (\(s.edge)), because \(s.why)\(last ? ": a contradiction, since \(h.name(steps[0].from)) cannot precede itself." : ".")")
        }
        return Anomaly(type: type, operations: ops, cycle: steps, explanation: lines)
    }

    private func reason(_ a: Int, _ b: Int, _ kind: UInt8) -> String {
        switch kind {
        case EdgeKind.ww:
            for m in h.operations[a].mopRange where h.mops[m].kind == .append {
                let ap = Int(index.appendByElement.get(index.mopKey[m], h.mops[m].a) ?? -1)
                guard ap >= 0, index.position[ap] >= 0 else { continue }
                let k = Int(index.mopKey[m])
                let p = Int(index.orderStart[k] + index.position[ap])
                guard Int(index.position[ap]) + 1 < index.orderCount(k) else { continue }
                let nextAppend = index.order[p + 1]
                if nextAppend >= 0 && Int(index.appendOp[Int(nextAppend)]) == b {
                    let reader = index.opOfMop(Int(index.longestRead[k]))
                    return "\(h.name(a)) appended \(h.mops[m].a) to key \(h.mops[m].key) and \(h.name(b))'s append of \(index.appendElement[Int(nextAppend)]) comes right after it in that key's version order, as \(h.name(reader))'s read of key \(h.mops[m].key) shows (\(around(k, Int(index.position[ap]))))"
                }
            }
        case EdgeKind.wr:
            for m in h.operations[b].mopRange where h.mops[m].kind == .read && h.mops[m].listCount > 0 {
                let list = h.list(h.mops[m])
                if let ap = index.appendByElement.get(index.mopKey[m], list.last!), Int(index.appendOp[Int(ap)]) == a {
                    return "\(h.name(b)) read key \(h.mops[m].key) as \(h.listText(list)), and its last element \(list.last!) was appended by \(h.name(a))"
                }
            }
        case EdgeKind.rw:
            for m in h.operations[a].mopRange where h.mops[m].kind == .read && isExternal(m, in: a) {
                let k = Int(index.mopKey[m])
                let len = Int(h.mops[m].listCount)
                guard len < index.orderCount(k) else { continue }
                let next = index.order[Int(index.orderStart[k]) + len]
                if next >= 0 && Int(index.appendOp[Int(next)]) == b {
                    let after = len == 0 ? "first" : "right after \(h.list(h.mops[m]).last!)"
                    return "\(h.name(a)) read key \(h.mops[m].key) as \(h.listText(h.list(h.mops[m]))), which does not include \(index.appendElement[Int(next)]), which \(h.name(b)) appended \(after) in that key's version order"
                }
            }
        case EdgeKind.process:
            let o = h.operations[a]
            return "both are operations of process \(o.process), and \(h.name(a)) completed (line \(o.completeLine)) before \(h.name(b)) was invoked (line \(h.operations[b].invokeLine))"
        default:
            return "\(h.name(a)) completed (line \(h.operations[a].completeLine)) before \(h.name(b)) was invoked (line \(h.operations[b].invokeLine))"
        }
        return "of a \(EdgeKind.name(kind)) dependency"
    }

    /// a → (key's "after everything read") → b: b's append to the key was never read.
    private func unread(_ a: Int, _ b: Int, key k: Int, kind: UInt8) -> String {
        let key = index.keyValue[k]
        let element = h.operations[b].mopRange.first { h.mops[$0].kind == .append && index.mopKey[$0] == Int32(k) && index.position[Int(index.appendByElement.get(Int32(k), h.mops[$0].a)!)] < 0 }.map { h.mops[$0].a }
        let appended = element.map { "\(h.name(b))'s append of \($0) to key \(key)" } ?? "\(h.name(b))'s append to key \(key)"
        let reader = index.opOfMop(Int(index.longestRead[k]))
        let longest = h.listText(h.list(h.mops[Int(index.longestRead[k])]))
        if kind == EdgeKind.ww {
            return "\(h.name(a)) appended the last element of key \(key) that any read shows (\(h.name(reader)) read \(longest)), and \(appended) committed\(committedHow(b)) but no read shows it, so it comes later in that key's version order"
        }
        return "\(h.name(a)) read key \(key) as \(longest), the longest read of it, and \(appended) committed\(committedHow(b)) but no read shows it, so it comes after every element \(h.name(a)) saw"
    }

    /// For an info transaction: how we know it committed.
    private func committedHow(_ op: Int) -> String {
        guard h.operations[op].outcome != .ok else { return "" }
        for m in h.operations[op].mopRange where h.mops[m].kind == .append {
            if let a = index.append(key: index.mopKey[m], element: h.mops[m].a), index.position[Int(a)] >= 0 {
                return " (its outcome was unknown, but a read shows its append of \(h.mops[m].a) to key \(h.mops[m].key))"
            }
        }
        return ""
    }

    /// Whether read `m` is its transaction's first micro-operation on its key (what the graph's rw edges use).
    private func isExternal(_ m: Int, in op: Int) -> Bool {
        !(Int(h.operations[op].mopStart)..<m).contains { index.mopKey[$0] == index.mopKey[m] }
    }

    /// A few elements of key `k`'s version order around position `p`.
    private func around(_ k: Int, _ p: Int) -> String {
        let list = h.list(h.mops[Int(index.longestRead[k])])
        let lo = max(0, p - 2), hi = min(list.count, p + 4)
        let base = list.startIndex
        return (lo > 0 ? "… " : "") + list[(base + lo)..<(base + hi)].map(String.init).joined(separator: " ") + (hi < list.count ? " …" : "")
    }
}
