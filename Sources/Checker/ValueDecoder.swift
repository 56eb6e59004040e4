// The `value` of invocations and `ok` completions, per model (HISTORY.md "Models"). An invocation's value
// becomes the operation's micro-operations; the `ok` completion must repeat it exactly, with its reads filled
// in, and those reads are written into the same micro-operations. Values of `fail` and `info` completions are
// not read: what they carry changes nothing about what the operation asked.

struct ValueDecoder {
    let line: JSONLine
    let model: Model

    typealias Message = HistoryError.Message

    /// Appends the micro-operations of an invocation of `function` to `history.mops`.
    func decodeInvoke(_ function: Function, value v: Int, key: Int64, into history: inout History) throws(Message) {
        switch function {
        case .txn:
            guard line.tokens[v].kind == .arrayStart else {
                throw Message("a txn's value must be a list of micro-operations, found \(line.describe(v))")
            }
            var i = v + 1
            var n = 0
            while i < Int(line.tokens[v].close) {
                n += 1
                history.mops.append(try microOp(i, number: n, invoke: true, history: &history))
                i = line.after(i)
            }
        case .add:
            history.mops.append(MicroOp(kind: .add, hasValue: true, key: 0, a: try integer(v, "an add's value"),
                                        b: 0, listStart: 0, listCount: -1))
        case .read:
            guard line.tokens[v].kind == .null else { throw Message("a read's value must be null in its invoke, found \(line.describe(v))") }
            history.mops.append(MicroOp(kind: .read, hasValue: false, key: key, a: 0, b: 0, listStart: 0, listCount: -1))
        case .write:
            history.mops.append(MicroOp(kind: .write, hasValue: true, key: key, a: try integer(v, "a write's value"),
                                        b: 0, listStart: 0, listCount: -1))
        case .cas:
            let (expected, new) = try pair(v)
            history.mops.append(MicroOp(kind: .cas, hasValue: true, key: key, a: expected, b: new, listStart: 0, listCount: -1))
        }
    }

    /// Checks an `ok` value against the invocation's micro-operations and records what the reads observed.
    func decodeOk(_ function: Function, value v: Int, op: Operation, invokeLine: Int32, into history: inout History) throws(Message) {
        switch function {
        case .txn:
            guard line.tokens[v].kind == .arrayStart else {
                throw Message("a txn's value must be a list of micro-operations, found \(line.describe(v))")
            }
            var i = v + 1
            var m = Int(op.mopStart)
            var n = 0
            while i < Int(line.tokens[v].close) {
                n += 1
                guard m < op.mopRange.upperBound else {
                    throw Message("the ok has more micro-operations than its invoke (line \(invokeLine))")
                }
                let done = try microOp(i, number: n, invoke: false, history: &history)
                let asked = history.mops[m]
                guard done.kind == asked.kind, done.key == asked.key, done.kind != .append || done.a == asked.a else {
                    throw Message("micro-operation \(n) differs from its invoke (line \(invokeLine)): \(line.rawText(i))")
                }
                if done.kind == .read { history.mops[m] = done }
                i = line.after(i)
                m += 1
            }
            guard m == op.mopRange.upperBound else {
                throw Message("the ok has fewer micro-operations than its invoke (line \(invokeLine))")
            }
        case .add:
            let e = try integer(v, "an add's value")
            guard e == history.mops[Int(op.mopStart)].a else { throw Message("the ok's element \(e) differs from its invoke (line \(invokeLine))") }
        case .read where model == .set:
            guard line.tokens[v].kind == .arrayStart else { throw Message("a set read's value must be a list of integers, found \(line.describe(v))") }
            let (start, count) = try integerList(v, "a set read's value", history: &history)
            history.mops[Int(op.mopStart)].hasValue = true
            history.mops[Int(op.mopStart)].listStart = start
            history.mops[Int(op.mopStart)].listCount = count
        case .read:
            if line.tokens[v].kind != .null {
                history.mops[Int(op.mopStart)].a = try integer(v, "a register read's value")
                history.mops[Int(op.mopStart)].hasValue = true
            }
        case .write:
            let x = try integer(v, "a write's value")
            guard x == history.mops[Int(op.mopStart)].a else { throw Message("the ok's value \(x) differs from its invoke (line \(invokeLine))") }
        case .cas:
            let (a, b) = try pair(v)
            let asked = history.mops[Int(op.mopStart)]
            guard a == asked.a, b == asked.b else { throw Message("the ok's value differs from its invoke (line \(invokeLine))") }
        }
    }

    /// `["append", key, element]` or `["r", key, null | [elements]]`.
    private func microOp(_ i: Int, number n: Int, invoke: Bool, history: inout History) throws(Message) -> MicroOp {
        let t = line.tokens
        guard t[i].kind == .arrayStart, t[i + 1].kind == .string, i + 3 < Int(t[i].close), t[i + 2].kind != .objectStart,
              t[i + 2].kind != .arrayStart, line.after(i + 3) == Int(t[i].close) else {
            throw Message("micro-operation \(n) must be a list of three items [f, key, value], found \(line.rawText(i))")
        }
        guard t[i + 2].kind == .integer else {
            throw Message("micro-operation \(n): the key must be an integer, found \(line.describe(i + 2))")
        }
        let key = t[i + 2].int
        if line.stringEquals(i + 1, "append") {
            guard t[i + 3].kind == .integer else {
                throw Message("micro-operation \(n): an appended element must be an integer, found \(line.describe(i + 3))")
            }
            return MicroOp(kind: .append, hasValue: true, key: key, a: t[i + 3].int, b: 0, listStart: 0, listCount: -1)
        }
        guard line.stringEquals(i + 1, "r") else {
            throw Message("micro-operation \(n): the function must be \"append\" or \"r\", found \(line.describe(i + 1))")
        }
        if invoke {
            guard t[i + 3].kind == .null else {
                throw Message("micro-operation \(n): a read must be null in an invoke, found \(line.describe(i + 3))")
            }
            return MicroOp(kind: .read, hasValue: false, key: key, a: 0, b: 0, listStart: 0, listCount: -1)
        }
        // Jepsen records a read of a key never written as null: that is the empty list, not a missing value.
        if t[i + 3].kind == .null {
            return MicroOp(kind: .read, hasValue: true, key: key, a: 0, b: 0, listStart: Int32(history.elements.count), listCount: 0)
        }
        let (start, count) = try integerList(i + 3, "micro-operation \(n): a read", history: &history)
        return MicroOp(kind: .read, hasValue: true, key: key, a: 0, b: 0, listStart: start, listCount: count)
    }

    private func integerList(_ v: Int, _ what: String, history: inout History) throws(Message) -> (Int32, Int32) {
        let t = line.tokens
        guard t[v].kind == .arrayStart else { throw Message("\(what) must be a list of integers, found \(line.describe(v))") }
        let start = history.elements.count
        let close = Int(t[v].close)
        var j = v + 1
        while j < close {
            guard t[j].kind == .integer else {
                history.elements.removeSubrange(start...)
                throw Message("\(what) must be a list of integers, found \(line.describe(j)) in it")
            }
            history.elements.append(t[j].int)
            j += 1
        }
        guard history.elements.count <= Int(Int32.max) else { throw Message("history too large: more than 2^31 read elements") }
        return (Int32(start), Int32(close - v - 1))
    }

    private func integer(_ v: Int, _ what: String) throws(Message) -> Int64 {
        guard line.tokens[v].kind == .integer else { throw Message("\(what) must be an integer, found \(line.describe(v))") }
        return line.tokens[v].int
    }

    private func pair(_ v: Int) throws(Message) -> (Int64, Int64) {
        let t = line.tokens
        guard t[v].kind == .arrayStart, Int(t[v].close) == v + 3, t[v + 1].kind == .integer, t[v + 2].kind == .integer else {
            throw Message("a cas's value must be [expected, new] (two integers), found \(line.rawText(v))")
        }
        return (t[v + 1].int, t[v + 2].int)
    }
}
