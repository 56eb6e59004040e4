/// Appends protocol v1 primitives (little-endian, 8-byte padded) to a byte array.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func uint8(_ v: UInt8) { bytes.append(v) }

    public mutating func uint16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    public mutating func uint32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func uint64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }

    public mutating func double(_ v: Double) { uint64(v.bitPattern) }

    /// UTF-8 bytes, a NUL, then zeros up to the next multiple of 8.
    public mutating func text(_ s: String) {
        let start = bytes.count
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(0)
        padTo8(from: start)
    }

    /// A u64 length, the bytes, then zeros up to the next multiple of 8.
    public mutating func blob(_ b: [UInt8]) {
        uint64(UInt64(b.count))
        let start = bytes.count
        bytes.append(contentsOf: b)
        padTo8(from: start)
    }

    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// Zero-fills so that the bytes written since `start` are a multiple of 8.
    public mutating func padTo8(from start: Int) {
        let written = bytes.count - start
        let pad = (8 - written % 8) % 8
        if pad > 0 { bytes.append(contentsOf: repeatElement(0, count: pad)) }
    }

    /// Overwrites 4 bytes at `offset` (used to patch a header's word count).
    mutating func patchUInt32(_ v: UInt32, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { src in
            for i in 0..<4 { bytes[offset + i] = src[i] }
        }
    }
}

/// The size of `n` bytes rounded up to a whole number of 8-byte words.
@inline(__always) public func pad8(_ n: Int) -> Int { (n + 7) & ~7 }
