// A parsed history in compact form: one `Operation` per invocation (paired with its completion), the
// micro-operations of every operation in one flat array, and every element of every read list in another.
// Integer ids and flat arrays keep a million-transaction history to a few hundred bytes per transaction.

public enum Outcome: UInt8, Sendable {
    case ok          // happened
    case fail        // certainly did not happen
    case info        // may or may not have happened (also: an invoke with no completion)
}

public enum Function: UInt8, Sendable {
    case txn, add, read, write, cas

    public var name: String {
        switch self {
        case .txn: "txn"
        case .add: "add"
        case .read: "read"
        case .write: "write"
        case .cas: "cas"
        }
    }
}

public enum MicroOpKind: UInt8, Sendable {
    case append      // list-append: append `a` to `key`
    case read        // list-append / set: list read (list*); register: value `a` (or null)
    case write       // register: write `a`
    case cas         // register: compare-and-set from `a` to `b`
    case add         // set: add element `a`
}

/// One step of an operation: a list-append micro-operation, or the single action of a set/register operation.
public struct MicroOp: Sendable {
    public var kind: MicroOpKind
    /// For reads: whether a value was observed (false on invoke, and for a register read of null).
    public var hasValue: Bool
    public var key: Int64
    public var a: Int64
    public var b: Int64
    /// For list reads: the observed elements are `History.elements[listStart ..< listStart + listCount]`.
    public var listStart: Int32
    public var listCount: Int32
}

public struct Operation: Sendable {
    public var process: Int64
    public var outcome: Outcome
    public var function: Function
    /// Event positions (the `index` field, or the event's position in the file). `Int64.max` when none.
    public var invokeIndex: Int64
    public var completeIndex: Int64
    public var invokeTime: Int64
    public var completeTime: Int64
    /// 1-based line numbers in the file; 0 when there is no completion line.
    public var invokeLine: Int32
    public var completeLine: Int32
    public var mopStart: Int32
    public var mopCount: Int32

    public var mopRange: Range<Int> { Int(mopStart)..<Int(mopStart + mopCount) }
    public var completed: Bool { completeIndex != Int64.max }
}

/// A fault as the nemesis applied it (`{"nemesis":"start"|"stop", ...}`), kept for reports only.
public struct FaultEvent: Sendable {
    public var start: Bool
    public var fault: String
    public var detail: String      // raw JSON text of `detail`, or ""
    public var index: Int64
    public var time: Int64
    public var line: Int
}

public enum Model: String, Sendable, CaseIterable {
    case listAppend = "list-append"
    case set
    case register
    case casRegister = "cas-register"
}

public struct History: Sendable {
    public var model: Model
    public var operations: [Operation] = []
    public var mops: [MicroOp] = []
    public var elements: [Int64] = []
    public var faults: [FaultEvent] = []
    /// Fields of the optional metadata line, each value as its raw JSON text.
    public var metadata: [(key: String, value: String)] = []
    /// `node` and `error` strings, only for the operations that carry them.
    public var annotations: [Int32: OperationAnnotation] = [:]
    public var lineCount = 0

    public init(model: Model) { self.model = model }

    @inline(__always) public func list(_ m: MicroOp) -> ArraySlice<Int64> {
        elements[Int(m.listStart)..<Int(m.listStart + max(m.listCount, 0))]
    }

    /// Time of the last event, for drawing operations that never completed.
    public var endTime: Int64 {
        var t = faults.last?.time ?? 0
        for op in operations {
            t = max(t, op.invokeTime)
            if op.completed { t = max(t, op.completeTime) }
        }
        return t
    }
}

public struct OperationAnnotation: Sendable {
    public var node: String?
    public var error: String?
}
