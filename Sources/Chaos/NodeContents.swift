import DqliteClient
import Foundation

/// What one node holds: a DUMP of that node (its own files, whatever the leader says), written where
/// SQLite can open it (each workload reads its tables from it, `ChaosWorkload.state(ofDump:)`).
enum NodeContents {
    /// Writes node `address`'s DUMP of `database` under `scratch`; the database file's path.
    static func dump(at address: String, database: String, scratch: String, tls: TLSContext?) async throws -> String {
        var config = ClientConfig()
        config.tls = tls
        config.requestTimeout = .seconds(10)
        let node = try await NodeClient.connect(to: address, config: config)
        defer { node.close() }
        let files = try await node.dump(database: database)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + database
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        for f in files { _ = FileManager.default.createFile(atPath: scratch + "/" + f.name, contents: Data(f.content)) }
        return path
    }
}
