#if canImport(Glibc)
import Glibc
#endif

/// Reads C-Raft 0.15's segment files the way its loader does (uv_segment.c), to tell damage at rest from a
/// torn last write before C-Raft sees them. C-Raft refuses to start on a damaged closed segment, but it
/// silently drops everything from a damaged batch of an open segment onwards, even when later batches are
/// intact: a node that acknowledged those entries would then vote as if it never had them.
///
/// Layout: an 8-byte format version (1), then batches: header CRC and data CRC (32 bits each), the header
/// (entry count, then per entry term, type, 3 unused bytes and size: 16 bytes) and the entries' data (each
/// a multiple of 8 bytes). Open segments are preallocated with zeros: a zero count ends them. All numbers
/// little-endian; the CRC is libiberty's (polynomial 0x04C11DB7, MSB first, no reflection, initial 0).
enum SegmentFileCheck {
    /// What a scan found: the batches read, and the first problem with the offset where it began.
    struct Scan: Equatable {
        var batches = 0
        var problem: String?
        var problemOffset = 0
        /// A batch that checks out begins after the problem: the damaged batch had been written whole.
        var intactBatchAfterProblem = false
    }

    /// Why a closed segment is damaged, or nil.
    static func closedProblem(_ bytes: [UInt8]) -> String? {
        let scan = scan(bytes, open: false)
        return scan.problem.map { "\($0) at byte \(scan.problemOffset)" }
    }

    /// Why an open segment is damaged at rest, or nil when it is intact or ends in a torn write (a damaged
    /// last batch, followed by nothing intact: what a crash during that write leaves, which C-Raft drops, as
    /// it was never acknowledged). `expectedSize` is the preallocated size: a shorter file was cut, which is
    /// damage only where the cut went through a batch. C-Raft closes a segment by truncating it after its
    /// last batch, syncing it, renaming it and syncing the directory: a power loss before the directory's
    /// sync leaves it intact under its open name, and C-Raft loads it as it is (found by the bed's power-loss
    /// faults: all three nodes took their logs for damaged and no leader could be elected again).
    static func openProblem(_ bytes: [UInt8], expectedSize: Int) -> String? {
        let scan = scan(bytes, open: true)
        if bytes.count < expectedSize && bytes.count > 8 {
            guard let problem = scan.problem else { return nil }
            return "open segment is \(bytes.count) bytes, shorter than its preallocated \(expectedSize), and \(problem) at byte \(scan.problemOffset)"
        }
        guard let problem = scan.problem, scan.intactBatchAfterProblem else { return nil }
        return "\(problem) at byte \(scan.problemOffset), with intact batches after it"
    }

    static func scan(_ bytes: [UInt8], open: Bool) -> Scan {
        var result = Scan()
        guard bytes.count >= 8 else {
            if !open || bytes.contains(where: { $0 != 0 }) { result.problem = "shorter than its format header" }
            return result
        }
        guard open && bytes.allSatisfy({ $0 == 0 }) || le64(bytes, 0) == 1 else {
            result.problem = "format version \(le64(bytes, 0)), not 1"
            return result
        }
        var offset = 8
        while offset < bytes.count {
            switch batch(bytes, at: offset) {
            case .end:
                if open { return result }
                result.problem = "entry count of zero"
                result.problemOffset = offset
                return result
            case .intact(let next):
                result.batches += 1
                offset = next
            case .damaged(let why):
                result.problem = why
                result.problemOffset = offset
                var probe = offset + 8
                while probe + 16 <= bytes.count {
                    if case .intact = batch(bytes, at: probe) { result.intactBatchAfterProblem = true; break }
                    probe += 8
                }
                return result
            }
        }
        return result
    }

    private enum Batch { case end, intact(next: Int), damaged(String) }

    private static func batch(_ b: [UInt8], at offset: Int) -> Batch {
        guard offset + 16 <= b.count else {
            return b[offset...].allSatisfy({ $0 == 0 }) ? .end : .damaged("a batch cut short")
        }
        let n = le64(b, offset + 8)
        if n == 0 { return b[offset..<(offset + 16)].allSatisfy({ $0 == 0 }) ? .end : .damaged("entry count of zero") }
        guard n <= UInt64(b.count / 16) else { return .damaged("entry count \(n) too high") }
        let headerStart = offset + 8, headerLength = 8 + 16 * Int(n)
        guard headerStart + headerLength <= b.count else { return .damaged("a batch header cut short") }
        guard crc32(b, headerStart, headerLength) == le32(b, offset) else { return .damaged("header checksum mismatch") }
        var dataLength = 0
        for i in 0..<Int(n) {
            let type = b[headerStart + 8 + 16 * i + 8]
            guard (1...3).contains(type) else { return .damaged("entry type \(type)") }
            dataLength += Int(le32(b, headerStart + 8 + 16 * i + 12))
        }
        let dataStart = headerStart + headerLength
        guard dataStart + dataLength <= b.count else { return .damaged("batch data cut short") }
        guard crc32(b, dataStart, dataLength) == le32(b, offset + 4) else { return .damaged("data checksum mismatch") }
        return .intact(next: dataStart + dataLength)
    }

    private static func le64(_ b: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    private static func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }

    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i) << 24
        for _ in 0..<8 { c = c & 0x8000_0000 != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1 }
        return c
    }

    static func crc32(_ b: [UInt8], _ start: Int, _ count: Int) -> UInt32 {
        var crc: UInt32 = 0
        for i in start..<(start + count) { crc = (crc << 8) ^ table[Int(((crc >> 24) ^ UInt32(b[i])) & 0xFF)] }
        return crc
    }
}
