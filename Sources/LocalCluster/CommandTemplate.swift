/// The command line that starts one node of a user's own dqlite program (`target: command`), with
/// placeholders the cluster fills in per node:
///
/// | placeholder | becomes |
/// |---|---|
/// | `{id}` | the node's number, 1-based (node 1 bootstraps the cluster) |
/// | `{index}` | the same, 0-based |
/// | `{address}` | the host:port it must serve dqlite's wire protocol on (clients and Raft peers) |
/// | `{host}`, `{port}` | the two halves of `{address}` |
/// | `{dir}` | its own data directory (kept across restarts, wiped by `member` faults) |
/// | `{join}` | the address of node 1, for every node but node 1 |
///
/// Node 1 has nothing to join: the word holding `{join}` is dropped, with the flag before it when that word
/// is a flag (`--join {join}` disappears; so does `--join={join}`). Words split on spaces; single or double
/// quotes keep spaces inside a word.
public struct CommandTemplate: Sendable, Equatable {
    public let text: String
    public let words: [String]

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case empty
        case unbalancedQuote
        case unknownPlaceholder(String)
        case missingAddress
        public var description: String {
            switch self {
            case .empty: "the command template is empty"
            case .unbalancedQuote: "the command template has an unbalanced quote"
            case .unknownPlaceholder(let p): "unknown placeholder {\(p)} (known: \(CommandTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", ")))"
            case .missingAddress: "the command template must place {address} (or {host} and {port}): the node has to listen where the bed dials it"
            }
        }
    }

    public static let placeholders = ["id", "index", "address", "host", "port", "dir", "join"]

    public init(_ text: String) throws(Failure) {
        self.text = text
        var words: [String] = []
        var current = "", inWord = false
        var quote: Character?
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(ch)
                inWord = true
            }
        }
        guard quote == nil else { throw .unbalancedQuote }
        if inWord { words.append(current) }
        guard !words.isEmpty else { throw .empty }
        self.words = words
        for name in Self.names(in: text) where !Self.placeholders.contains(name) { throw .unknownPlaceholder(name) }
        guard uses("address") || (uses("host") && uses("port")) else { throw .missingAddress }
    }

    /// Whether the template places `{name}`.
    public func uses(_ name: String) -> Bool { text.contains("{\(name)}") }

    /// The program (the first word).
    public var program: String { words[0] }

    /// Node `index`'s command line (program first).
    public func render(index: Int, address: String, dir: String, join: String?) -> [String] {
        let host = address.split(separator: ":").dropLast().joined(separator: ":")
        let port = address.split(separator: ":").last.map(String.init) ?? ""
        let values = ["id": String(index + 1), "index": String(index), "address": address, "host": host, "port": port, "dir": dir]
        var out: [String] = []
        for word in words {
            if word.contains("{join}") {
                guard let join else {
                    // `--join {join}`: the flag goes with its value; `--join={join}` is one word.
                    if let last = out.last, last.hasPrefix("-"), !word.hasPrefix("-") { out.removeLast() }
                    continue
                }
                out.append(fill(word.replacingOccurrences(of: "{join}", with: join), values))
            } else {
                out.append(fill(word, values))
            }
        }
        return out
    }

    private func fill(_ word: String, _ values: [String: String]) -> String {
        var w = word
        for (k, v) in values { w = w.replacingOccurrences(of: "{\(k)}", with: v) }
        return w
    }

    private static func names(in text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            out.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return out
    }
}
