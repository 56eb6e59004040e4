/// Every way a byte string can fail to be a protocol v1 value. Decoding never traps: it returns a value or one
/// of these.
public enum WireError: Error, Equatable, Sendable {
    /// The input ended before the field `field` was complete.
    case truncated(field: String)
    /// A message body larger than the configured cap (`bytes` announced, `limit` allowed).
    case oversized(bytes: UInt64, limit: UInt64)
    /// Padding bytes that must be zero were not.
    case badPadding(field: String)
    /// A text field with no NUL terminator inside the body.
    case unterminatedText(field: String)
    /// A text field that is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A value type code outside protocol v1's set.
    case unknownValueType(UInt8)
    /// A request or response type code outside protocol v1's set.
    case unknownMessageType(UInt8)
    /// A schema revision the message type does not have.
    case unsupportedSchema(type: UInt8, schema: UInt8)
    /// Bytes left over after a message that should have ended.
    case trailingBytes(count: Int)
    /// A ROWS batch whose end word is neither the "part" nor the "done" marker.
    case badRowsMarker(UInt64)
    /// A count larger than the bytes that could possibly hold it.
    case countTooLarge(field: String, count: UInt64)
    /// An 8-byte handshake word that is neither protocol version 1 nor the legacy version.
    case unknownProtocolVersion(UInt64)
    /// A value that cannot be encoded (e.g. more parameters than a tuple format can count).
    case unencodable(String)
}
