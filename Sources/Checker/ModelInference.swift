// Which model a history is in, when the caller does not say: the metadata line's "model", else the first
// operation that only one model has ("txn", "add", "write"/"cas", or a read that returned a list or not).
// Lines it cannot read are skipped here: the parsing pass that follows reports them with their line number.

struct ModelInference {
    private var tokenizer = JSONTokenizer()
    private(set) var decided: Model?
    /// True when decided from the operations rather than named: a register history may then be relabelled
    /// `register` once the parse shows it has no cas.
    private(set) var fromOperations = false
    private var sawOperation = false

    /// Returns false once the model is known (to stop reading).
    mutating func look(_ n: Int, _ bytes: UnsafeBufferPointer<UInt8>) throws(HistoryError) -> Bool {
        guard let line = try? tokenizeLine(&tokenizer, n, bytes), let fields = try? EventFields(line) else { return true }
        if fields.history >= 0 {
            var i = 1
            while i < Int(line.tokens[0].close) {
                if line.stringEquals(i, "model") {
                    guard let name = try? line.optionalString(i + 1, "model"), let m = Model(rawValue: name) else {
                        throw HistoryError(line: n, "unknown model \(line.rawText(i + 1)) (expected one of \(Model.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    decided = m
                    return false
                }
                i = line.after(i + 1)
            }
            return true
        }
        guard fields.f >= 0, fields.process >= 0 else { return true }
        sawOperation = true
        if line.stringEquals(fields.f, "txn") { decided = .listAppend }
        else if line.stringEquals(fields.f, "add") { decided = .set }
        else if line.stringEquals(fields.f, "write") || line.stringEquals(fields.f, "cas") { decided = .casRegister }
        else if line.stringEquals(fields.f, "read"), fields.type >= 0, line.stringEquals(fields.type, "ok"), fields.value >= 0 {
            decided = line.tokens[fields.value].kind == .arrayStart ? .set : .casRegister
        }
        if decided != nil { fromOperations = true }
        return decided == nil
    }

    func result() throws(HistoryError) -> Model {
        if let decided { return decided }
        // No operation at all: vacuously valid in any model.
        if !sawOperation { return .listAppend }
        throw HistoryError(line: 0, "cannot tell the model from the history (no metadata \"model\" and no operation that only one model has); pass --model")
    }
}
