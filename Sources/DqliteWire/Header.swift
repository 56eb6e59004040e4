/// The handshake word a client sends first, and the limits every decoder enforces.
public enum ProtocolVersion: UInt64, Sendable {
    case v1 = 1
    /// The pre-1.0 version, still accepted by servers; its LEADER reply carries only an address.
    case legacy = 0x8610_4dd7_6043_3fe5

    /// Decodes the 8-byte handshake word.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ProtocolVersion {
        var r = WireReader(bytes)
        let word = try r.uint64("protocol version")
        try r.expectEnd()
        guard let v = ProtocolVersion(rawValue: word) else { throw .unknownProtocolVersion(word) }
        return v
    }

    public var encoded: [UInt8] {
        var w = WireWriter(capacity: 8)
        w.uint64(rawValue)
        return w.bytes
    }
}

public enum WireLimits {
    /// Default cap on one message body. A ROWS batch is about a page, but one huge row or a DUMP of a big
    /// database can be far larger; 256 MiB bounds memory while allowing both.
    public static let defaultMaxMessageBytes: UInt64 = 256 << 20
}

/// The 8-byte header in front of every message: body length in words, type, schema, and an unused u16.
public struct MessageHeader: Sendable, Hashable {
    public static let size = 8

    public var words: UInt32
    public var type: UInt8
    public var schema: UInt8
    public var extra: UInt16

    public init(words: UInt32, type: UInt8, schema: UInt8 = 0, extra: UInt16 = 0) {
        self.words = words
        self.type = type
        self.schema = schema
        self.extra = extra
    }

    public var bodyBytes: Int { Int(words) * 8 }

    /// Decodes a header and checks the announced body against `maxBodyBytes` before anyone allocates it.
    public static func decode(_ bytes: [UInt8], maxBodyBytes: UInt64 = WireLimits.defaultMaxMessageBytes) throws(WireError) -> MessageHeader {
        var r = WireReader(bytes)
        let words = try r.uint32("header words")
        let type = try r.uint8("header type")
        let schema = try r.uint8("header schema")
        let extra = try r.uint16("header extra")
        try r.expectEnd()
        let body = UInt64(words) * 8
        if body > maxBodyBytes { throw .oversized(bytes: body, limit: maxBodyBytes) }
        return MessageHeader(words: words, type: type, schema: schema, extra: extra)
    }

    public func encode(into w: inout WireWriter) {
        w.uint32(words)
        w.uint8(type)
        w.uint8(schema)
        w.uint16(extra)
    }
}

/// Builds one framed message: a header whose word count is patched in after the body is written.
public struct MessageBuilder {
    public var writer: WireWriter

    public init(type: UInt8, schema: UInt8, capacity: Int = 64) {
        writer = WireWriter(capacity: capacity)
        MessageHeader(words: 0, type: type, schema: schema).encode(into: &writer)
    }

    /// Patches the word count and returns the bytes. The body is padded to a word and is never empty, since a
    /// C server never dispatches a zero-word message.
    public consuming func finish() throws(WireError) -> WireWriter {
        writer.padTo8(from: MessageHeader.size)
        if writer.count == MessageHeader.size { writer.uint64(0) }
        let words = (writer.count - MessageHeader.size) / 8
        guard words <= Int(UInt32.max) else { throw .unencodable("message body of \(words) words") }
        writer.patchUInt32(UInt32(words), at: 0)
        return writer
    }
}
