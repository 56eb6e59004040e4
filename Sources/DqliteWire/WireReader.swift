/// Reads protocol v1 primitives from a byte array. Every read checks bounds first and throws `WireError`
/// instead of trapping, so arbitrary input is safe.
public struct WireReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.end = bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always) private mutating func need(_ n: Int, _ field: String) throws(WireError) {
        if n > end - offset { throw .truncated(field: field) }
    }

    public mutating func uint8(_ field: String) throws(WireError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint16(_ field: String) throws(WireError) -> UInt16 {
        try need(2, field)
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public mutating func uint32(_ field: String) throws(WireError) -> UInt32 {
        try need(4, field)
        let o = offset
        offset += 4
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    }

    public mutating func uint64(_ field: String) throws(WireError) -> UInt64 {
        try need(8, field)
        let o = offset
        offset += 8
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    }

    /// The next u64 without consuming it.
    public func peekUInt64(_ field: String) throws(WireError) -> UInt64 {
        var copy = self
        return try copy.uint64(field)
    }

    public mutating func int64(_ field: String) throws(WireError) -> Int64 {
        Int64(bitPattern: try uint64(field))
    }

    public mutating func double(_ field: String) throws(WireError) -> Double {
        Double(bitPattern: try uint64(field))
    }

    /// A NUL-terminated UTF-8 string padded with zeros to a multiple of 8.
    public mutating func text(_ field: String) throws(WireError) -> String {
        let start = offset
        let read = bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) -> (String, Int) in
                var raw = RawWireReader(buffer, offset: start)
                let s = try raw.text(field)
                return (s, raw.offset)
            }
        }
        let (s, next) = try read.get()
        offset = next
        return s
    }

    /// A u64 length, the bytes, then padding to a multiple of 8. C dqlite does not clear the padding after a
    /// blob value (it holds whatever the buffer held), so its content is not checked.
    public mutating func blob(_ field: String) throws(WireError) -> [UInt8] {
        let length = try uint64(field)
        return try rawPadded(length: length, field: field, zeroPadding: false)
    }

    /// `length` raw bytes followed by padding to a multiple of 8 (zeros, when `zeroPadding`).
    public mutating func rawPadded(length: UInt64, field: String, zeroPadding: Bool = true) throws(WireError) -> [UInt8] {
        guard length <= UInt64(remaining) else { throw .truncated(field: field) }
        let n = Int(length)
        let size = pad8(n)
        if size > remaining { throw .truncated(field: field) }
        let value = Array(bytes[offset..<(offset + n)])
        if zeroPadding {
            for i in (offset + n)..<(offset + size) where bytes[i] != 0 { throw .badPadding(field: field) }
        }
        offset += size
        return value
    }

    /// Skips zero padding up to the next multiple of 8 counted from `start`.
    public mutating func skipPadding(from start: Int, field: String) throws(WireError) {
        let target = start + pad8(offset - start)
        if target > end { throw .truncated(field: field) }
        for i in offset..<target where bytes[i] != 0 { throw .badPadding(field: field) }
        offset = target
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(WireError) {
        if offset != end { throw .trailingBytes(count: end - offset) }
    }

    /// Guards a count read from the input against the bytes left: `count` items of at least `minSize` bytes
    /// each must fit, so no allocation is ever sized by a lie.
    public func checkCount(_ count: UInt64, minSize: Int, field: String) throws(WireError) {
        if minSize > 0 && count > UInt64(remaining / minSize) { throw .countTooLarge(field: field, count: count) }
    }
}
