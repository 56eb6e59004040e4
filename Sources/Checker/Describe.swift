// How explanations name operations and values. An operation is "T<index>", after the index of its
// invocation in the history, and is introduced once with its process, outcome, lines and value so a reader
// can find it in the file.

extension History {
    public func name(_ op: Int) -> String { "T\(operations[op].invokeIndex)" }

    /// "T12 (process 3, ok, lines 40-44): append 5 to 3, read 4 → [1 2]"
    public func introduce(_ op: Int) -> String {
        let o = operations[op]
        let lines = o.completeLine > 0 ? "lines \(o.invokeLine)-\(o.completeLine)" : "line \(o.invokeLine), never completed"
        let outcome: String
        switch o.outcome {
        case .ok: outcome = "ok"
        case .fail: outcome = "failed"
        case .info: outcome = "outcome unknown"
        }
        return "\(name(op)) (process \(o.process), \(outcome), \(lines)): \(describeValue(op))"
    }

    public func describeValue(_ op: Int) -> String {
        let o = operations[op]
        return o.mopRange.map { describe(mops[$0], function: o.function, outcome: o.outcome) }.joined(separator: ", ")
    }

    func describe(_ m: MicroOp, function: Function, outcome: Outcome) -> String {
        let keyText = m.key == noKey ? "" : " key \(m.key)"
        switch m.kind {
        case .append: return "append \(m.a) to key \(m.key)"
        case .add: return "add \(m.a)"
        case .write: return "write \(m.a)\(keyText.isEmpty ? "" : " to" + keyText)"
        case .cas: return "cas\(keyText) from \(m.a) to \(m.b)"
        case .read:
            if function == .txn {
                return m.hasValue ? "read key \(m.key) → \(listText(list(m)))" : "read key \(m.key)"
            }
            if model == .set { return m.hasValue ? "read → \(listText(list(m)))" : "read" }
            if outcome != .ok { return "read\(keyText)" }
            return "read\(keyText) → \(m.hasValue ? String(m.a) : "null")"
        }
    }

    /// A list as "[1 2 3]", shortened in the middle when long (the end is what dependencies turn on).
    public func listText(_ list: ArraySlice<Int64>, limit: Int = 12) -> String {
        if list.count <= limit { return "[" + list.map(String.init).joined(separator: " ") + "]" }
        let head = list.prefix(3).map(String.init).joined(separator: " ")
        let tail = list.suffix(limit - 4).map(String.init).joined(separator: " ")
        return "[\(head) … \(tail)] (\(list.count) elements)"
    }
}
