import DqliteClient
import DqliteWire

/// A shell error: one line for the user.
public struct ShellError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The `dqlite` shell: SQL against one database on the leader, and dot commands for the cluster, as go-dqlite's
/// shell offers them. `execute` runs one line and returns what to print.
public actor Shell {
    public nonisolated let database: String
    public nonisolated let format: OutputFormat
    private let client: DqliteClient
    private var connection: Connection?
    /// `.timer on`: each SQL statement's wall time follows its output.
    private var timer = false

    public static let help = """
        Enter SQL (a statement starting with SELECT, WITH, PRAGMA, EXPLAIN or VALUES prints its rows), or:
        .tables                        list the tables and views
        .schema [table]                print the CREATE statements (of one table and its indexes)
        .timer on|off                  print each statement's run time
        .cluster                       list the members: id|address|role
        .leader                        print the leader's address
        .remove <address>              remove a member
        .describe <address>            print a node's failure domain and weight: address|domain|weight
        .weight <address> <weight>     set a node's weight
        .dump <address> [database]     write a node's copy of the database and its WAL to this directory
        .help                          this text
        .exit, .quit                   leave (as does Ctrl-D)
        """

    public init(servers: [String], database: String, format: OutputFormat = .tabular, config: ClientConfig = ClientConfig()) throws {
        guard !servers.isEmpty else { throw ShellError("no servers given (use -s host:port[,host:port…])") }
        do {
            client = try DqliteClient(addresses: servers, config: config)
        } catch {
            throw ShellError(error.description)
        }
        self.database = database
        self.format = format
    }

    /// Runs one line: SQL or a dot command. Returns the text to print (possibly empty).
    public func execute(_ line: String) async throws -> String {
        let trimmed = line.trimmingSpaces
        if trimmed.isEmpty { return "" }
        do {
            if trimmed.hasPrefix(".") { return try await dotCommand(trimmed) }
            guard timer else { return try await sql(trimmed) }
            let started = ContinuousClock.now
            let out = try await sql(trimmed)
            let took = ContinuousClock.now - started
            let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
            return (out.isEmpty ? "" : out + "\n") + "Run Time: real " + Self.threeDecimals(seconds)
        } catch let e as DqliteError {
            throw ShellError(e.description)
        }
    }

    public func close() async {
        await connection?.close()
        connection = nil
    }

    private func sql(_ text: String) async throws -> String {
        if connection == nil { connection = try await client.open(database) }
        guard let connection else { return "" }
        let first = text.prefix { $0.isLetter }.uppercased()
        if ["SELECT", "WITH", "PRAGMA", "EXPLAIN", "VALUES"].contains(first) {
            let result = try await connection.queryAll(text)
            return ResultFormatter.format(columns: result.columns, rows: result.rows, as: format)
        }
        try await connection.exec(text)
        return ""
    }

    private func rows(_ query: String, _ parameters: [Value] = []) async throws -> [[Value]] {
        if connection == nil { connection = try await client.open(database) }
        guard let connection else { return [] }
        return try await connection.queryAll(query, parameters).rows
    }

    private static func text(_ value: Value?) -> String? {
        if case .text(let s)? = value { return s }
        return nil
    }

    /// `0.004`: seconds with three decimals, as sqlite3's timer prints them.
    static func threeDecimals(_ seconds: Double) -> String {
        let millis = Int((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    private func dotCommand(_ line: String) async throws -> String {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch (words[0], words.count) {
        case (".help", _):
            return Self.help
        case (".tables", 1):
            let names = try await rows("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
            return names.compactMap { Self.text($0.first) }.joined(separator: "\n")
        case (".schema", 1), (".schema", 2):
            let filter = words.count == 2 ? " AND tbl_name = ?" : ""
            let parameters: [Value] = words.count == 2 ? [.text(words[1])] : []
            let statements = try await rows("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'\(filter) "
                                            + "ORDER BY tbl_name, type DESC, name", parameters)
            return statements.compactMap { Self.text($0.first).map { $0 + ";" } }.joined(separator: "\n")
        case (".timer", 2) where words[1] == "on" || words[1] == "off":
            timer = words[1] == "on"
            return ""
        case (".leader", 1):
            return try await client.leaderAddress()
        case (".cluster", 1):
            let members = try await client.cluster()
            let rows: [[Value]] = members.map {
                [.text(String($0.id, radix: 16)), .text($0.address), .text($0.knownRole?.description ?? "role \($0.role ?? 0)")]
            }
            return ResultFormatter.format(columns: ["id", "address", "role"], rows: rows, as: format)
        case (".remove", 2):
            let address = words[1]
            guard let member = try await client.cluster().first(where: { $0.address == address }) else {
                throw ShellError("no member has address \(address)")
            }
            try await client.withLeader { c throws(DqliteError) in try await c.remove(id: member.id) }
            return ""
        case (".describe", 2):
            let node = try await client.node(words[1])
            defer { node.close() }
            let d = try await node.describe()
            return ResultFormatter.format(columns: ["address", "failure_domain", "weight"],
                                          rows: [[.text(words[1]), .integer(Int64(bitPattern: d.failureDomain)), .integer(Int64(bitPattern: d.weight))]],
                                          as: format)
        case (".weight", 3):
            guard let weight = UInt64(words[2]) else { throw ShellError("bad weight '\(words[2])': expected a whole number") }
            let node = try await client.node(words[1])
            defer { node.close() }
            try await node.setWeight(weight)
            return ""
        case (".dump", 2), (".dump", 3):
            let node = try await client.node(words[1])
            defer { node.close() }
            let files = try await node.dump(database: words.count == 3 ? words[2] : database)
            for file in files { try FileWriter.write(file.content, to: file.name) }
            return files.map(\.name).joined(separator: "\n")
        default:
            throw ShellError("unknown or malformed command '\(line)' (see .help)")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }
        return String(String.UnicodeScalarView(scalars.reversed()))
    }
}
