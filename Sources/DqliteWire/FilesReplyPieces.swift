/// A FILES reply (the answer to DUMP) as the arrays it is made of, in order, for a writer that sends them
/// without joining them: the headers and padding are made here, the files' contents are the caller's own
/// chunks (a database's pages). Laid end to end they are `Response.files(...).encoded()`. Joined into one
/// message, a DUMP of a 1.3 GB database had cost five copies of it (the files, the encoding, the reply, the
/// write queue) and 4.8 GB of a node's memory.
public enum FilesReplyPieces {
    /// One file: its name and its content, in chunks.
    public struct File {
        public let name: String
        public let chunks: [[UInt8]]

        public init(name: String, chunks: [[UInt8]]) {
            self.name = name
            self.chunks = chunks
        }
    }

    /// The message's pieces; none is empty.
    public static func pieces(_ files: [File]) throws(WireError) -> [[UInt8]] {
        var body = 8
        for f in files {
            body += pad8(f.name.utf8.count + 1) + 8 + pad8(f.chunks.reduce(0) { $0 + $1.count })
        }
        let words = body / 8
        guard words <= Int(UInt32.max) else { throw .unencodable("message body of \(words) words") }
        var out: [[UInt8]] = []
        out.reserveCapacity(files.reduce(1) { $0 + $1.chunks.count + 2 })
        var head = WireWriter(capacity: 64)
        MessageHeader(words: UInt32(words), type: ResponseType.files.rawValue, schema: 0).encode(into: &head)
        head.uint64(UInt64(files.count))
        var padding = 0
        for f in files {
            if padding > 0 { head.raw([UInt8](repeating: 0, count: padding)) }
            head.text(f.name)
            let size = f.chunks.reduce(0) { $0 + $1.count }
            head.uint64(UInt64(size))
            out.append(head.bytes)
            head = WireWriter(capacity: 64)
            for chunk in f.chunks where !chunk.isEmpty { out.append(chunk) }
            padding = pad8(size) - size
        }
        if padding > 0 { head.raw([UInt8](repeating: 0, count: padding)) }
        if head.count > 0 { out.append(head.bytes) }
        return out
    }
}
