/// The two tuple layouts of protocol v1: parameter tuples (counted, one type byte each) and row tuples
/// (uncounted, two 4-bit type codes per byte).
public enum ParamsFormat: Sendable {
    /// Schema 0: a u8 count, at most 255 parameters.
    case count8
    /// Schema 1 (dqlite ≥ 1.12): a u32 count.
    case count32

    /// go-dqlite's choice: the 8-bit format unless there are too many parameters for it.
    public static func smallest(for count: Int) -> ParamsFormat { count <= 255 ? .count8 : .count32 }

    public var schema: UInt8 { self == .count8 ? 0 : 1 }
}

public enum Params {
    /// Appends a params tuple. Zero parameters write nothing, as go-dqlite does; the server reads an
    /// exhausted body as no parameters.
    public static func encode(_ values: [Value], format: ParamsFormat, into w: inout WireWriter) throws(WireError) {
        if values.isEmpty { return }
        let start = w.count
        switch format {
        case .count8:
            guard values.count <= 255 else { throw .unencodable("\(values.count) parameters need the 32-bit tuple format") }
            w.uint8(UInt8(values.count))
        case .count32:
            guard values.count <= Int(UInt32.max) else { throw .unencodable("too many parameters") }
            w.uint32(UInt32(values.count))
        }
        for v in values { w.uint8(v.type.rawValue) }
        w.padTo8(from: start)
        for v in values { v.encode(into: &w) }
    }

    /// Reads a params tuple that runs to the end of the body (absent = no parameters).
    public static func decode(format: ParamsFormat, from r: inout WireReader) throws(WireError) -> [Value] {
        if r.isAtEnd { return [] }
        let start = r.offset
        let count: UInt64 = switch format {
        case .count8: UInt64(try r.uint8("params count"))
        case .count32: UInt64(try r.uint32("params count"))
        }
        // Each parameter needs a type byte and at least one 8-byte word of value.
        try r.checkCount(count, minSize: 9, field: "params count")
        var types: [ValueType] = []
        types.reserveCapacity(Int(count))
        for _ in 0..<count {
            let code = try r.uint8("param type")
            guard let t = ValueType(rawValue: code) else { throw .unknownValueType(code) }
            types.append(t)
        }
        try r.skipPadding(from: start, field: "params header")
        var values: [Value] = []
        values.reserveCapacity(types.count)
        for t in types { values.append(try Value.decode(t, from: &r)) }
        return values
    }
}

public enum RowTuple {
    /// Appends one row: the nibble-packed header (even column in the low nibble), padded, then the values.
    public static func encode(_ row: [Value], into w: inout WireWriter) {
        let start = w.count
        var i = 0
        while i < row.count {
            let low = row[i].type.rawValue
            let high = i + 1 < row.count ? row[i + 1].type.rawValue : 0
            w.uint8(low | high << 4)
            i += 2
        }
        w.padTo8(from: start)
        for v in row { v.encode(into: &w) }
    }

    /// Reads one row of `columns` values.
    public static func decode(columns: Int, from r: inout WireReader) throws(WireError) -> [Value] {
        let start = r.offset
        var types: [ValueType] = []
        types.reserveCapacity(columns)
        var i = 0
        while i < columns {
            let byte = try r.uint8("row header")
            guard let low = ValueType(rawValue: byte & 0x0F) else { throw .unknownValueType(byte & 0x0F) }
            types.append(low)
            i += 1
            if i < columns {
                guard let high = ValueType(rawValue: byte >> 4) else { throw .unknownValueType(byte >> 4) }
                types.append(high)
                i += 1
            } else if byte >> 4 != 0 {
                throw .badPadding(field: "row header")
            }
        }
        try r.skipPadding(from: start, field: "row header")
        var values: [Value] = []
        values.reserveCapacity(columns)
        for t in types { values.append(try Value.decode(t, from: &r)) }
        return values
    }
}
