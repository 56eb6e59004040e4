/// The WAL file format and its checksum (sqlite.org fileformat2 §4; reference/sqlite-wal.md §1).
enum WALFormat {
    static let headerSize = 32
    static let frameHeaderSize = 24
    static let magicLittleEndian: UInt32 = 0x377F_0682
    static let magicBigEndian: UInt32 = 0x377F_0683
    static let version: UInt32 = 3_007_000

    /// SQLite's rolling checksum over `bytes` (a multiple of 8), continuing from `seed`. `native`: read the
    /// 32-bit words in this host's byte order (little-endian here); otherwise swap them.
    static func checksum(_ bytes: UnsafeRawBufferPointer, native: Bool, seed: (UInt32, UInt32)) -> (UInt32, UInt32) {
        var s0 = seed.0, s1 = seed.1
        var i = 0
        let n = bytes.count
        if native {
            while i + 8 <= n {
                let a = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)
                let b = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
                s0 = s0 &+ a &+ s1
                s1 = s1 &+ b &+ s0
                i += 8
            }
        } else {
            while i + 8 <= n {
                let a = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).byteSwapped
                let b = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).byteSwapped
                s0 = s0 &+ a &+ s1
                s1 = s1 &+ b &+ s0
                i += 8
            }
        }
        return (s0, s1)
    }

    static func readBE32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func writeBE32(_ v: UInt32, into b: inout [UInt8], at: Int) {
        b[at] = UInt8(truncatingIfNeeded: v >> 24)
        b[at + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[at + 2] = UInt8(truncatingIfNeeded: v >> 8)
        b[at + 3] = UInt8(truncatingIfNeeded: v)
    }

    /// Whether checksums read words natively, from the magic's low bit (0 = little-endian words).
    static func nativeChecksum(header: [UInt8]) -> Bool {
        let bigEndianWords = readBE32(header, 0) & 1 == 1
        return bigEndianWords == (UInt32(1).bigEndian == 1)
    }

    /// A new WAL header: this host's magic, page size, checkpoint sequence, salts and its checksum.
    static func header(pageSize: Int, sequence: UInt32, salt1: UInt32, salt2: UInt32) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: headerSize)
        let magic = UInt32(1).bigEndian == 1 ? magicBigEndian : magicLittleEndian
        writeBE32(magic, into: &h, at: 0)
        writeBE32(version, into: &h, at: 4)
        writeBE32(UInt32(pageSize), into: &h, at: 8)
        writeBE32(sequence, into: &h, at: 12)
        writeBE32(salt1, into: &h, at: 16)
        writeBE32(salt2, into: &h, at: 20)
        let sum = h.withUnsafeBytes { checksum(UnsafeRawBufferPointer(rebasing: $0[0..<24]), native: nativeChecksum(header: h), seed: (0, 0)) }
        writeBE32(sum.0, into: &h, at: 24)
        writeBE32(sum.1, into: &h, at: 28)
        return h
    }

    /// The header after a WAL reset (what SQLite's walRestartHdr does): sequence + 1, salt-1 + 1, new salt-2.
    static func restartHeader(from old: [UInt8], pageSize: Int, newSalt2: UInt32) -> [UInt8] {
        header(pageSize: pageSize, sequence: readBE32(old, 12) &+ 1, salt1: readBE32(old, 16) &+ 1, salt2: newSalt2)
    }

    /// The checksum stored in a header (WAL header bytes 24..31 or frame header bytes 16..23).
    static func storedChecksum(_ b: [UInt8], at: Int) -> (UInt32, UInt32) {
        (readBE32(b, at), readBE32(b, at + 4))
    }
}
