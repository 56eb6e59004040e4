// The top-level fields of one history line, located by token index (values are interpreted later, once the
// event's type and function say what they must be). Each field may appear once; unknown fields are ignored,
// since other recorders may add their own and they change nothing the checker reads.

struct EventFields {
    var process = -1, nemesis = -1, type = -1, f = -1, value = -1, time = -1, index = -1
    var key = -1, node = -1, error = -1, history = -1, fault = -1, detail = -1

    /// Locates the fields of the object that makes up the whole line.
    init(_ line: JSONLine) throws(HistoryError.Message) {
        guard line.tokens[0].kind == .objectStart else {
            throw .init("an event must be a JSON object, found \(line.describe(0))")
        }
        let close = Int(line.tokens[0].close)
        var i = 1
        while i < close {
            let k = i, v = i + 1
            try assign(line, keyToken: k, valueToken: v)
            i = line.after(v)
        }
    }

    private mutating func assign(_ line: JSONLine, keyToken k: Int, valueToken v: Int) throws(HistoryError.Message) {
        let t = line.tokens[k]
        func set(_ slot: inout Int, _ name: String) throws(HistoryError.Message) {
            guard slot < 0 else { throw .init("field \"\(name)\" appears twice") }
            slot = v
        }
        // Dispatch on length first: cheap, and most lines only carry these few names.
        switch t.end - t.start {
        case 1 where line.stringEquals(k, "f"): try set(&f, "f")
        case 3 where line.stringEquals(k, "key"): try set(&key, "key")
        case 4 where line.stringEquals(k, "type"): try set(&type, "type")
        case 4 where line.stringEquals(k, "time"): try set(&time, "time")
        case 4 where line.stringEquals(k, "node"): try set(&node, "node")
        case 5 where line.stringEquals(k, "value"): try set(&value, "value")
        case 5 where line.stringEquals(k, "index"): try set(&index, "index")
        case 5 where line.stringEquals(k, "error"): try set(&error, "error")
        case 5 where line.stringEquals(k, "fault"): try set(&fault, "fault")
        case 6 where line.stringEquals(k, "detail"): try set(&detail, "detail")
        case 7 where line.stringEquals(k, "process"): try set(&process, "process")
        case 7 where line.stringEquals(k, "nemesis"): try set(&nemesis, "nemesis")
        case 7 where line.stringEquals(k, "history"): try set(&history, "history")
        default:
            if t.escaped {
                // An escaped spelling of a known name must not slip past the duplicate check.
                let name = (try? line.string(k)) ?? ""
                switch name {
                case "f": try set(&f, name)
                case "key": try set(&key, name)
                case "type": try set(&type, name)
                case "time": try set(&time, name)
                case "node": try set(&node, name)
                case "value": try set(&value, name)
                case "index": try set(&index, name)
                case "error": try set(&error, name)
                case "fault": try set(&fault, name)
                case "detail": try set(&detail, name)
                case "process": try set(&process, name)
                case "nemesis": try set(&nemesis, name)
                case "history": try set(&history, name)
                default: break
                }
            }
        }
    }
}

extension HistoryError {
    /// A problem within one line; the parser adds the line number.
    struct Message: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }
}

extension JSONLine {
    func integer(_ index: Int, _ field: String) throws(HistoryError.Message) -> Int64 {
        guard tokens[index].kind == .integer else {
            throw .init("field \"\(field)\" must be an integer, found \(describe(index))")
        }
        return tokens[index].int
    }

    func optionalString(_ index: Int, _ field: String) throws(HistoryError.Message) -> String? {
        if index < 0 || tokens[index].kind == .null { return nil }
        guard tokens[index].kind == .string else {
            throw .init("field \"\(field)\" must be a string, found \(describe(index))")
        }
        do { return try string(index) } catch { throw .init("field \"\(field)\": \(error.message)") }
    }
}
