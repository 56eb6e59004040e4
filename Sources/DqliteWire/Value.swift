/// The value type codes of protocol v1 tuples.
public enum ValueType: UInt8, Sendable, CaseIterable {
    case integer = 1
    case float = 2
    case text = 3
    case blob = 4
    case null = 5
    /// Seconds since the epoch; sent by servers only (a server refuses it as a parameter).
    case unixTime = 9
    case iso8601 = 10
    case boolean = 11
}

/// One SQL value as protocol v1 carries it.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case integer(Int64)
    case float(Double)
    case text(String)
    case blob([UInt8])
    case null
    case unixTime(Int64)
    case iso8601(String)
    case boolean(Bool)

    public var type: ValueType {
        switch self {
        case .integer: .integer
        case .float: .float
        case .text: .text
        case .blob: .blob
        case .null: .null
        case .unixTime: .unixTime
        case .iso8601: .iso8601
        case .boolean: .boolean
        }
    }

    // Floats compare by bit pattern so that a decoded NaN equals the NaN that was encoded.
    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case let (.integer(x), .integer(y)): x == y
        case let (.float(x), .float(y)): x.bitPattern == y.bitPattern
        case let (.text(x), .text(y)): x == y
        case let (.blob(x), .blob(y)): x == y
        case (.null, .null): true
        case let (.unixTime(x), .unixTime(y)): x == y
        case let (.iso8601(x), .iso8601(y)): x == y
        case let (.boolean(x), .boolean(y)): x == y
        default: false
        }
    }

    public func hash(into h: inout Hasher) {
        h.combine(type)
        switch self {
        case .integer(let x), .unixTime(let x): h.combine(x)
        case .float(let x): h.combine(x.bitPattern)
        case .text(let x), .iso8601(let x): h.combine(x)
        case .blob(let x): h.combine(x)
        case .null: break
        case .boolean(let x): h.combine(x)
        }
    }

    public var description: String {
        switch self {
        case .integer(let x): String(x)
        case .float(let x): String(x)
        case .text(let x): x
        case .blob(let x): "x'" + x.map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined() + "'"
        case .null: "NULL"
        case .unixTime(let x): String(x)
        case .iso8601(let x): x
        case .boolean(let x): x ? "true" : "false"
        }
    }

    /// Appends the value's encoding (without its type code).
    public func encode(into w: inout WireWriter) {
        switch self {
        case .integer(let x), .unixTime(let x): w.int64(x)
        case .float(let x): w.double(x)
        case .text(let x), .iso8601(let x): w.text(x)
        case .blob(let x): w.blob(x)
        case .null: w.uint64(0)
        case .boolean(let x): w.uint64(x ? 1 : 0)
        }
    }

    /// Reads one value of type `type`.
    public static func decode(_ type: ValueType, from r: inout WireReader) throws(WireError) -> Value {
        switch type {
        case .integer: return .integer(try r.int64("integer"))
        case .float: return .float(try r.double("float"))
        case .text: return .text(try r.text("text"))
        case .blob: return .blob(try r.blob("blob"))
        case .null:
            _ = try r.uint64("null")
            return .null
        case .unixTime: return .unixTime(try r.int64("unixtime"))
        case .iso8601: return .iso8601(try r.text("iso8601"))
        case .boolean: return .boolean(try r.uint64("boolean") != 0)
        }
    }
}
