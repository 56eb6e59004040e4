import CLZ4
import DqliteWire

/// An entry of the Raft log, in C dqlite's command format (reference/dqlite.md §2.4): an 8-byte header
/// (format 1, type, padding) and a body. FRAMES may also be written LZ4-compressed (`encoded(compressed:)`),
/// as a type of ours that C dqlite does not have: it matters only to nodes of ours, which read both.
public enum Command: Sendable, Equatable {
    /// Opens (creates) a database; a no-op kept for compatibility.
    case open(database: String)
    /// A committed write transaction's pages.
    case frames(database: String, pages: CapturedPages)
    /// Drops pending frames of a transaction (legacy).
    case undo(transactionID: UInt64)
    /// A checkpoint request (legacy; nodes checkpoint on their own).
    case checkpoint(database: String)

    static let format: UInt8 = 1

    enum Kind: UInt8 {
        case open = 1, frames = 2, undo = 3, checkpoint = 4
        /// FRAMES whose body (all that follows the header) is one LZ4 block: u32 body size, u32 block size,
        /// the block, zeros up to a multiple of 8 bytes (C-Raft's segments need 8-byte entries: with any
        /// other length a node's log fails its checksum at the next start and is set aside as corrupt).
        case framesLZ4 = 130
    }

    /// The largest body a compressed entry may claim, so that a damaged size cannot ask for any memory.
    static let maxDecompressedBody = 1 << 30

    /// The entry's bytes. With `compressed`, a FRAMES body is LZ4-compressed when that makes it smaller: its
    /// pages are half empty space and values often repeat, so the log, the segment files it fills (each
    /// written twice, see CSegmentPrefill) and the entries held in memory shrink by about 40% at 8 writers.
    public func encoded(compressed: Bool) throws(CommandError) -> [UInt8] {
        let plain = try encoded()
        guard compressed, case .frames = self, plain.count > 8 + 64 else { return plain }
        let bodySize = plain.count - 8
        guard bodySize <= Self.maxDecompressedBody else { return plain }
        let bound = Int(LZ4_compressBound(Int32(bodySize)))
        var out = [UInt8](repeating: 0, count: 16 + bound + 7)
        let written = plain.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_compress_default(
                    src.baseAddress!.advanced(by: 8).assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.advanced(by: 16).assumingMemoryBound(to: CChar.self), Int32(bodySize), Int32(bound))
            }
        }
        let total = 16 + (Int(written) + 7) & ~7
        guard written > 0, total < plain.count else { return plain }
        out.removeLast(out.count - total)
        var w = WireWriter(capacity: 16)
        w.uint8(Self.format)
        header(&w, .framesLZ4)
        w.uint32(UInt32(bodySize))
        w.uint32(UInt32(written))
        out.replaceSubrange(0..<16, with: w.bytes)
        return out
    }

    public func encoded() throws(CommandError) -> [UInt8] {
        var w = WireWriter(capacity: 64 + (pagesCount * (pageSize + 8)))
        w.uint8(Self.format)
        switch self {
        case .open(let db):
            header(&w, .open)
            w.text(db)
        case let .frames(db, captured):
            guard captured.pageSize > 0, captured.pageSize <= Int(UInt16.max) else {
                throw .unencodable("page size \(captured.pageSize) does not fit the command's u16")
            }
            guard captured.pages.count == captured.pageNumbers.count * captured.pageSize else {
                throw .unencodable("\(captured.pages.count) bytes for \(captured.pageNumbers.count) pages")
            }
            header(&w, .frames)
            w.text(db)
            w.uint64(0)  // tx_id: unused since dqlite 1.x
            w.uint32(captured.commitSize)  // truncate: the database size after the commit
            w.uint8(1)  // is_commit
            w.uint8(0)
            w.uint16(0)
            w.uint32(UInt32(captured.pageNumbers.count))
            w.uint16(UInt16(captured.pageSize))
            w.uint16(0)
            for p in captured.pageNumbers { w.uint64(UInt64(p)) }
            w.raw(captured.pages)
        case .undo(let id):
            header(&w, .undo)
            w.uint64(id)
        case .checkpoint(let db):
            header(&w, .checkpoint)
            w.text(db)
        }
        return w.bytes
    }

    private var pagesCount: Int { if case .frames(_, let c) = self { return c.pageNumbers.count } else { return 0 } }
    private var pageSize: Int { if case .frames(_, let c) = self { return c.pageSize } else { return 0 } }

    private func header(_ w: inout WireWriter, _ kind: Kind) {
        w.uint8(kind.rawValue)
        w.uint8(0)
        w.uint8(0)
        w.uint32(0)
    }

    public static func decode(_ bytes: [UInt8]) throws(CommandError) -> Command {
        do {
            var r = WireReader(bytes)
            let format = try r.uint8("command format")
            guard format == Self.format else { throw CommandError.unsupported("command format \(format)") }
            let rawKind = try r.uint8("command type")
            _ = try r.uint8("command padding")
            _ = try r.uint8("command padding")
            _ = try r.uint32("command padding")
            guard let kind = Kind(rawValue: rawKind) else { throw CommandError.unsupported("command type \(rawKind)") }
            let command: Command
            switch kind {
            case .open: command = .open(database: try r.text("database"))
            case .undo: command = .undo(transactionID: try r.uint64("tx id"))
            case .checkpoint: command = .checkpoint(database: try r.text("database"))
            case .frames: command = try decodeFrames(&r)
            case .framesLZ4:
                let size = Int(try r.uint32("uncompressed size"))
                let blockSize = Int(try r.uint32("compressed size"))
                let start = r.offset
                guard blockSize > 0, blockSize <= bytes.count - start, bytes.count - start - blockSize < 8,
                      bytes[(start + blockSize)...].allSatisfy({ $0 == 0 }) else {
                    throw CommandError.malformed("compressed block of \(blockSize) bytes in \(bytes.count - start)")
                }
                // LZ4 cannot expand a block by more than ~255x: a larger claim is damage, not data.
                guard size > 0, size <= maxDecompressedBody, size <= blockSize * 255 + 16 else {
                    throw CommandError.malformed("compressed frames claiming \(size) bytes from \(blockSize)")
                }
                var body = [UInt8](repeating: 0, count: size)
                let n = bytes.withUnsafeBytes { src in
                    body.withUnsafeMutableBytes { dst in
                        LZ4_decompress_safe(
                            src.baseAddress!.advanced(by: start).assumingMemoryBound(to: CChar.self),
                            dst.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(blockSize), Int32(size))
                    }
                }
                guard n == Int32(size) else { throw CommandError.malformed("compressed frames do not decompress to \(size) bytes (\(n))") }
                var inner = WireReader(body)
                command = try decodeFrames(&inner)
                try inner.expectEnd()
                return command
            }
            try r.expectEnd()
            return command
        } catch let e as CommandError {
            throw e
        } catch {
            throw .malformed("\(error)")
        }
    }

    /// A FRAMES body: everything after the 8-byte header.
    private static func decodeFrames(_ r: inout WireReader) throws -> Command {
        let db = try r.text("database")
        _ = try r.uint64("tx id")
        let truncate = try r.uint32("truncate")
        let isCommit = try r.uint8("is commit")
        _ = try r.uint8("padding")
        _ = try r.uint16("padding")
        guard isCommit == 1 else { throw CommandError.unsupported("frames without a commit (pre-1.0 upgrade path)") }
        let n = try r.uint32("page count")
        let size = Int(try r.uint16("page size"))
        _ = try r.uint16("padding")
        guard size >= 512, size & (size - 1) == 0 else { throw CommandError.malformed("page size \(size)") }
        try r.checkCount(UInt64(n), minSize: 8 + size, field: "page count")
        var numbers: [UInt32] = []
        numbers.reserveCapacity(Int(n))
        for _ in 0..<n {
            let p = try r.uint64("page number")
            guard p > 0, p <= UInt64(UInt32.max) else { throw CommandError.malformed("page number \(p)") }
            numbers.append(UInt32(p))
        }
        let pages = try r.rawPadded(length: UInt64(Int(n) * size), field: "pages")
        return .frames(database: db, pages: CapturedPages(pageSize: size, pageNumbers: numbers, pages: pages, commitSize: truncate))
    }
}

public enum CommandError: Error, Equatable, CustomStringConvertible {
    case unencodable(String)
    case unsupported(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .unencodable(let m): "cannot encode command: \(m)"
        case .unsupported(let m): "unsupported command: \(m)"
        case .malformed(let m): "malformed command: \(m)"
        }
    }
}
