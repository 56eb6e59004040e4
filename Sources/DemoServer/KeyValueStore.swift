import DqliteClient
import DqliteWire

/// The demo's data: go-dqlite's `model` table of text keys and values in the database `demo`.
public struct KeyValueStore: Sendable {
    public static let database = "demo"
    static let schema = "CREATE TABLE IF NOT EXISTS model (key TEXT, value TEXT, UNIQUE(key))"
    let connection: Connection

    /// Opens the database through the cluster's leader and creates the table when it is missing.
    public init(client: DqliteClient) async throws(DqliteError) {
        connection = try await client.open(Self.database)
        try await connection.exec(Self.schema)
    }

    /// The value stored under `key`, nil when there is none.
    public func value(_ key: String) async throws(DqliteError) -> String? {
        let rows = try await connection.queryAll("SELECT value FROM model WHERE key = ?", [.text(key)]).rows
        guard let first = rows.first?.first else { return nil }
        if case .text(let v) = first { return v }
        return nil
    }

    /// Stores `value` under `key`, replacing what was there.
    public func put(_ key: String, _ value: String) async throws(DqliteError) {
        try await connection.exec("INSERT OR REPLACE INTO model(key, value) VALUES(?, ?)", [.text(key), .text(value)])
    }
}
