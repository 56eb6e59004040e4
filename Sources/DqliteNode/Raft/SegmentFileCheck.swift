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

    /// libiberty's CRC table (`tables[0]`) and the seven that let `crc32` take 8 bytes a step (slicing by
    /// 8): a node checks every segment at each start, and a byte a step had been a fifth of a restart's CPU.
    private static let tables: [[UInt32]] = {
        var t = [(0..<256).map { i in
            var c = UInt32(i) << 24
            for _ in 0..<8 { c = c & 0x8000_0000 != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1 }
            return c
        }]
        for k in 1..<8 { t.append((0..<256).map { i in (t[k - 1][i] << 8) ^ t[0][Int(t[k - 1][i] >> 24)] }) }
        return t
    }()

    static func crc32(_ b: [UInt8], _ start: Int, _ count: Int) -> UInt32 {
        precondition(start >= 0 && count >= 0 && start + count <= b.count)
        let t0 = tables[0], t1 = tables[1], t2 = tables[2], t3 = tables[3]
        let t4 = tables[4], t5 = tables[5], t6 = tables[6], t7 = tables[7]
        return b.withUnsafeBufferPointer { all in
            t0.withUnsafeBufferPointer { t0 in t1.withUnsafeBufferPointer { t1 in t2.withUnsafeBufferPointer { t2 in
            t3.withUnsafeBufferPointer { t3 in t4.withUnsafeBufferPointer { t4 in t5.withUnsafeBufferPointer { t5 in
            t6.withUnsafeBufferPointer { t6 in t7.withUnsafeBufferPointer { t7 in
                var crc: UInt32 = 0
                var i = start
                let end = start + count
                while end - i >= 8 {
                    let x = crc ^ (UInt32(all[i]) << 24 | UInt32(all[i + 1]) << 16 | UInt32(all[i + 2]) << 8 | UInt32(all[i + 3]))
                    crc = t7[Int(x >> 24)] ^ t6[Int((x >> 16) & 0xFF)] ^ t5[Int((x >> 8) & 0xFF)] ^ t4[Int(x & 0xFF)]
                        ^ t3[Int(all[i + 4])] ^ t2[Int(all[i + 5])] ^ t1[Int(all[i + 6])] ^ t0[Int(all[i + 7])]
                    i += 8
                }
                while i < end {
                    crc = (crc << 8) ^ t0[Int(((crc >> 24) ^ UInt32(all[i])) & 0xFF)]
                    i += 1
                }
                return crc
            } } } } } } } }
        }
    }
}
