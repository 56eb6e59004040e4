// Reads a history (HISTORY.md) line by line into a `History`: pairs each completion with its process's
// invocation, keeps fault events, and rejects anything the format does not allow with the line and the reason.

public enum HistoryParser {
    /// Parses the file at `path` ("-" for standard input). `model` nil: from the metadata line, else inferred.
    public static func parse(path: String, model: Model? = nil) throws -> History {
        var inference = ModelInference()
        if model == nil {
            try LineReader.forEachLine(path: path) { (n, bytes) throws(HistoryError) in try inference.look(n, bytes) }
        }
        let chosen: Model
        if let model { chosen = model } else { chosen = try inference.result() }
        var builder = HistoryBuilder(model: chosen, modelFixedByCaller: model != nil,
                                     relabelRegister: inference.fromOperations)
        try LineReader.forEachLine(path: path) { (n, bytes) throws(HistoryError) in
            try builder.line(n, bytes)
            return true
        }
        return try builder.finish()
    }

    public static func parse(bytes: [UInt8], model: Model? = nil) throws(HistoryError) -> History {
        var inference = ModelInference()
        if model == nil {
            try LineReader.forEachLine(bytes: bytes) { (n, b) throws(HistoryError) in try inference.look(n, b) }
        }
        let chosen: Model
        if let model { chosen = model } else { chosen = try inference.result() }
        var builder = HistoryBuilder(model: chosen, modelFixedByCaller: model != nil,
                                     relabelRegister: inference.fromOperations)
        try LineReader.forEachLine(bytes: bytes) { (n, b) throws(HistoryError) in
            try builder.line(n, b)
            return true
        }
        return try builder.finish()
    }

    public static func parse(text: String, model: Model? = nil) throws(HistoryError) -> History {
        try parse(bytes: Array(text.utf8), model: model)
    }
}

/// Tokenizes one line, mapping JSON syntax errors to the line's number.
func tokenizeLine(_ tokenizer: inout JSONTokenizer, _ n: Int, _ bytes: UnsafeBufferPointer<UInt8>) throws(HistoryError) -> JSONLine? {
    var blank = true
    for b in bytes where !(b == 0x20 || b == 0x09 || b == 0x0d) { blank = false; break }
    if blank { return nil }
    do { try tokenizer.tokenize(bytes) } catch {
        throw HistoryError(line: n, "invalid JSON at column \(error.column): \(error.message)")
    }
    return JSONLine(bytes: bytes, tokens: tokenizer.tokens)
}

struct HistoryBuilder {
    private var history: History
    private let modelFixedByCaller: Bool
    private let relabelRegister: Bool
    private var tokenizer = JSONTokenizer()
    /// Per process: the pending operation's id, `idle`, or `crashed` (after an info it may issue nothing more).
    private var processes = Int64Map(capacity: 64)
    private var processState: [Int32] = []
    private static let idle: Int32 = -1, crashed: Int32 = -2
    private var sawLine = false
    private var eventCount: Int64 = 0
    private var lastIndex: Int64 = -1
    private var lastTime: Int64 = Int64.min

    init(model: Model, modelFixedByCaller: Bool, relabelRegister: Bool = false) {
        history = History(model: model)
        self.modelFixedByCaller = modelFixedByCaller
        self.relabelRegister = relabelRegister
    }

    mutating func line(_ n: Int, _ bytes: UnsafeBufferPointer<UInt8>) throws(HistoryError) {
        history.lineCount = n
        guard let line = try tokenizeLine(&tokenizer, n, bytes) else { return }
        do throws(HistoryError.Message) {
            let fields = try EventFields(line)
            let first = !sawLine
            sawLine = true
            if fields.history >= 0 {
                guard first else { throw HistoryError.Message("a metadata line (with \"history\") may only be the first line") }
                try metadata(line, fields)
            } else if fields.nemesis >= 0 {
                try fault(line, fields, n)
            } else {
                try event(line, fields, n)
            }
        } catch {
            throw HistoryError(line: n, error.text)
        }
    }

    private mutating func metadata(_ line: JSONLine, _ f: EventFields) throws(HistoryError.Message) {
        let version = try line.integer(f.history, "history")
        guard version == 1 else { throw .init("unsupported history format version \(version) (this checker reads version 1)") }
        var i = 1
        while i < Int(line.tokens[0].close) {
            let key: String
            do { key = try line.string(i) } catch { throw .init(error.message) }
            history.metadata.append((key, line.rawText(i + 1)))
            if key == "model" {
                let name = try line.optionalString(i + 1, "model")
                guard let name, let m = Model(rawValue: name) else {
                    throw .init("unknown model \(line.rawText(i + 1)) (expected one of \(Model.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                // An explicit --model wins over the metadata; otherwise the metadata chose the model already.
                if !modelFixedByCaller && m != history.model {
                    throw .init("internal: model inference disagrees with the metadata")
                }
            }
            i = line.after(i + 1)
        }
    }

    private mutating func position(_ line: JSONLine, _ f: EventFields) throws(HistoryError.Message) -> (index: Int64, time: Int64) {
        guard f.time >= 0 else { throw .init("missing field \"time\"") }
        let time = try line.integer(f.time, "time")
        var index = eventCount
        if f.index >= 0 {
            index = try line.integer(f.index, "index")
            guard index > lastIndex else { throw .init("index \(index) does not increase (previous event's index is \(lastIndex))") }
        } else if lastIndex >= index {
            index = lastIndex + 1        // derived after explicit ones: keep strictly increasing
        }
        guard index < Int64.max else { throw .init("index out of range") }
        lastIndex = index
        eventCount += 1
        lastTime = max(lastTime, time)
        return (index, time)
    }

    private mutating func fault(_ line: JSONLine, _ f: EventFields, _ n: Int) throws(HistoryError.Message) {
        guard f.process < 0 else { throw .init("a line has both \"nemesis\" and \"process\"") }
        let start: Bool
        if line.stringEquals(f.nemesis, "start") { start = true }
        else if line.stringEquals(f.nemesis, "stop") { start = false }
        else { throw .init("field \"nemesis\" must be \"start\" or \"stop\", found \(line.describe(f.nemesis))") }
        let (index, time) = try position(line, f)
        let name = try line.optionalString(f.fault, "fault") ?? ""
        history.faults.append(FaultEvent(start: start, fault: name, detail: f.detail >= 0 ? line.rawText(f.detail) : "",
                                         index: index, time: time, line: n))
    }

    private mutating func event(_ line: JSONLine, _ f: EventFields, _ n: Int) throws(HistoryError.Message) {
        guard f.process >= 0 else { throw .init("missing field \"process\" (or \"nemesis\" for a fault event)") }
        let process = try line.integer(f.process, "process")
        guard process >= 0 else { throw .init("field \"process\" must be ≥ 0, found \(process)") }
        guard f.type >= 0 else { throw .init("missing field \"type\"") }
        guard f.f >= 0 else { throw .init("missing field \"f\"") }
        let function = try self.function(line, f.f)
        let key: Int64
        if f.key >= 0 {
            guard history.model == .register || history.model == .casRegister else {
                throw .init("field \"key\" belongs to the register models, not to \(history.model.rawValue)")
            }
            key = try line.integer(f.key, "key")
        } else {
            key = noKey
        }
        let (index, time) = try position(line, f)
        let slot = processes.intern(process, next: Int32(processState.count))
        if Int(slot) == processState.count { processState.append(Self.idle) }
        let state = processState[Int(slot)]
        let decoder = ValueDecoder(line: line, model: history.model)

        if line.stringEquals(f.type, "invoke") {
            guard state != Self.crashed else {
                throw .init("process \(process) invokes after an info; a process issues nothing more after an info (HISTORY.md)")
            }
            guard state == Self.idle else {
                let pending = history.operations[Int(state)]
                throw .init("process \(process) invokes while its operation from line \(pending.invokeLine) is outstanding")
            }
            guard f.value >= 0 else { throw .init("missing field \"value\" in an invoke") }
            guard history.operations.count < Int(Int32.max) else { throw .init("history too large: more than 2^31 operations") }
            let mopStart = history.mops.count
            try decoder.decodeInvoke(function, value: f.value, key: key, into: &history)
            history.operations.append(Operation(
                process: process, outcome: .info, function: function, invokeIndex: index, completeIndex: Int64.max,
                invokeTime: time, completeTime: Int64.max, invokeLine: Int32(truncatingIfNeeded: n), completeLine: 0,
                mopStart: Int32(mopStart), mopCount: Int32(history.mops.count - mopStart)))
            processState[Int(slot)] = Int32(history.operations.count - 1)
            try annotate(line, f, op: history.operations.count - 1)
            return
        }

        let outcome: Outcome
        if line.stringEquals(f.type, "ok") { outcome = .ok }
        else if line.stringEquals(f.type, "fail") { outcome = .fail }
        else if line.stringEquals(f.type, "info") { outcome = .info }
        else { throw .init("field \"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\", found \(line.describe(f.type))") }

        guard state >= 0 else {
            throw .init("\(line.rawText(f.type)) for process \(process), which has no operation outstanding")
        }
        let id = Int(state)
        let op = history.operations[id]
        guard op.function == function else {
            throw .init("f \"\(function.name)\" differs from its invoke's \"\(op.function.name)\" (line \(op.invokeLine))")
        }
        if key != noKey, key != history.mops[Int(op.mopStart)].key {
            throw .init("key \(key) differs from its invoke's (line \(op.invokeLine))")
        }
        guard time >= op.invokeTime else {
            throw .init("completes at time \(time), before its invoke at time \(op.invokeTime) (line \(op.invokeLine))")
        }
        if outcome == .ok {
            guard f.value >= 0 else { throw .init("missing field \"value\" in an ok") }
            try decoder.decodeOk(function, value: f.value, op: op, invokeLine: op.invokeLine, into: &history)
        }
        history.operations[id].outcome = outcome
        history.operations[id].completeIndex = index
        history.operations[id].completeTime = time
        history.operations[id].completeLine = Int32(truncatingIfNeeded: n)
        processState[Int(slot)] = outcome == .info ? Self.crashed : Self.idle
        try annotate(line, f, op: id)
    }

    private func function(_ line: JSONLine, _ i: Int) throws(HistoryError.Message) -> Function {
        let allowed: [Function]
        switch history.model {
        case .listAppend: allowed = [.txn]
        case .set: allowed = [.add, .read]
        case .register: allowed = [.read, .write]
        case .casRegister: allowed = [.read, .write, .cas]
        }
        for candidate in allowed {
            let match: Bool
            switch candidate {
            case .txn: match = line.stringEquals(i, "txn")
            case .add: match = line.stringEquals(i, "add")
            case .read: match = line.stringEquals(i, "read")
            case .write: match = line.stringEquals(i, "write")
            case .cas: match = line.stringEquals(i, "cas")
            }
            if match { return candidate }
        }
        throw .init("f \(line.describe(i)) is not an operation of the \(history.model.rawValue) model (expected \(allowed.map { "\"\($0.name)\"" }.joined(separator: " or ")))")
    }

    private mutating func annotate(_ line: JSONLine, _ f: EventFields, op: Int) throws(HistoryError.Message) {
        guard f.node >= 0 || f.error >= 0 else { return }
        var a = history.annotations[Int32(op)] ?? OperationAnnotation()
        if let node = try line.optionalString(f.node, "node") { a.node = node }
        if let error = try line.optionalString(f.error, "error") { a.error = error }
        history.annotations[Int32(op)] = a
    }

    /// An invoke without a completion stays an info (HISTORY.md), as every operation starts out as one.
    mutating func finish() throws(HistoryError) -> History {
        // Inferred from a write or a read, a register history is read as cas-register (a superset); name it
        // plainly when it holds no cas.
        if relabelRegister && history.model == .casRegister && !history.operations.contains(where: { $0.function == .cas }) {
            history.model = .register
        }
        return history
    }
}

/// The register key of events that carry none: one unnamed register.
public let noKey = Int64.min
