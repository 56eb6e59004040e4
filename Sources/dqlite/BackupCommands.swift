import ArgumentParser
import DqliteClient
import DqliteShell
import Foundation

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a live cluster's database to a SQLite file (a point in time, taken without stopping writes).",
        discussion: "dqlite backup -s 127.0.0.1:9001 demo demo.db; the file opens with sqlite3 and restores with `dqlite restore`."
    )

    @OptionGroup var cluster: ClusterOptions

    @Flag(help: "Replace FILE when it exists.")
    var force = false

    @Argument(help: "The database name.")
    var database: String

    @Argument(help: "The SQLite file to write.")
    var file: String

    func run() async throws {
        let client = try DqliteClient(addresses: cluster.addresses, config: try cluster.config())
        do {
            let s = try await Backup.backup(client: client, database: database, to: file, overwrite: force)
            print("backed up \(database) from \(s.leader) to \(file): \(s.tables) tables, \(s.rows) rows, \(s.bytes) bytes")
        } catch {
            FileHandleStandardError.write("Error: \(error)\n")
            throw ExitCode.failure
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Load a SQLite file into a cluster's database, replicated like any write.",
        discussion: "dqlite restore -s 127.0.0.1:9001 demo demo.db; a database that already holds tables is refused unless --force, which drops them first."
    )

    @OptionGroup var cluster: ClusterOptions

    @Flag(help: "Replace what the database holds.")
    var force = false

    @Option(help: "Rows per replicated transaction.")
    var batch: Int = 1000

    @Argument(help: "The database name.")
    var database: String

    @Argument(help: "The SQLite file to load.")
    var file: String

    func validate() throws {
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be 1...100000") }
    }

    func run() async throws {
        let client = try DqliteClient(addresses: cluster.addresses, config: try cluster.config())
        do {
            let s = try await Backup.restore(client: client, database: database, from: file, replace: force, batch: batch)
            print("restored \(file) into \(database) through \(s.leader): \(s.tables) tables, \(s.rows) rows")
        } catch {
            FileHandleStandardError.write("Error: \(error)\n")
            throw ExitCode.failure
        }
    }
}
