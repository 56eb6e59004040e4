/// Where a node listens: `host:port` (IPv6 as `[::1]:port`), a Unix socket path, or `@name` for an abstract
/// Unix socket. The text is kept exactly as given, because dqlite compares leader addresses as strings.
public enum NodeAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    /// dqlite's port when an address names none.
    public static let defaultPort: UInt16 = 8080

    public init(parsing text: String) throws(DqliteError) {
        if text.hasPrefix("/") || text.hasPrefix("@") {
            guard text.utf8.count < 108 else { throw .invalidAddress(text, "a Unix socket path must be under 108 bytes") }
            self = .unix(path: text)
            return
        }
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw .invalidAddress(text, "unclosed '['") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .invalidAddress(text, "expected ':' after ']'") }
                portText = rest.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard host.firstIndex(of: ":") == colon else { throw .invalidAddress(text, "an IPv6 host needs brackets") }
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw .invalidAddress(text, "no host") }
        var port = Self.defaultPort
        if let portText {
            guard let p = UInt16(portText), p > 0 else { throw .invalidAddress(text, "bad port '\(portText)'") }
            port = p
        }
        self = .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case let .tcp(host, port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }
}
