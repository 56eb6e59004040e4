/// Bounds-checked reads of protocol v1 primitives from memory the reader does not own: a snapshot in C-Raft's
/// buffer, which is too big to copy into an array first. `WireReader` reads its padded text through it.
public struct RawWireReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    public var remaining: Int { buffer.count - offset }

    public mutating func uint64(_ field: String) throws(WireError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(field: field) }
        defer { offset += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A NUL-terminated UTF-8 string padded with zeros to a multiple of 8.
    public mutating func text(_ field: String) throws(WireError) -> String {
        let start = offset
        guard start < buffer.count, let nul = buffer[start...].firstIndex(of: 0) else { throw .unterminatedText(field: field) }
        let end = start + pad8(nul - start + 1)
        try skipZeros(from: nul + 1, to: end, field: field)
        guard let s = String(validating: buffer[start..<nul], as: UTF8.self) else {
            offset = start
            throw .invalidUTF8(field: field)
        }
        return s
    }

    /// Moves to `end`, checking that the bytes from `from` up to it (padding) are zeros.
    public mutating func skipZeros(from: Int, to end: Int, field: String) throws(WireError) {
        guard end <= buffer.count else { throw .truncated(field: field) }
        for i in from..<end where buffer[i] != 0 { throw .badPadding(field: field) }
        offset = end
    }
}
