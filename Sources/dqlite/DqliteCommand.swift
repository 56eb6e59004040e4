import ArgumentParser
import DqliteClient
import DqliteFlags
import DqliteShell
#if canImport(Glibc)
import Glibc
#endif

@main
struct DqliteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite",
        abstract: "Standard dqlite shell: run SQL and cluster commands against a dqlite cluster; back up and restore its databases.",
        subcommands: [ShellCommand.self, BackupCommand.self, RestoreCommand.self],
        defaultSubcommand: ShellCommand.self
    )
}

/// The cluster to talk to, and how long to wait for it.
struct ClusterOptions: ParsableArguments {
    @Option(name: [.short, .long], parsing: .singleValue, help: "Comma-separated list of servers (host:port); may be repeated.")
    var servers: [String] = []

    @Option(name: .long, help: "Seconds to wait for the leader and for each request.")
    var timeout: Double = 10

    @Option(name: .long, help: "MiB a reply may have at most (the guard against a peer announcing a huge message); a .dump of a bigger database needs more.")
    var maxMessageMib: UInt64 = 256

    @OptionGroup(title: "Mutual TLS (a cluster whose nodes run with TLS)")
    var tls: TLSOptions

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard (1...(1 << 20)).contains(maxMessageMib) else { throw ValidationError("--max-message-mib must be 1...1048576") }
        guard !addresses.isEmpty else { throw ValidationError("give the cluster's servers with -s HOST:PORT[,HOST:PORT...]") }
    }

    var addresses: [String] { servers.flatMap { $0.split(separator: ",").map(String.init) } }

    func config() throws -> ClientConfig {
        var config = ClientConfig()
        config.leaderTimeout = .milliseconds(Int(timeout * 1000))
        config.requestTimeout = .milliseconds(Int(timeout * 1000))
        config.retry.deadline = .milliseconds(Int(timeout * 1000))
        config.tls = try tls.context()
        config.maxMessageBytes = maxMessageMib << 20
        return config
    }
}

struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Run SQL and dot commands (the default: `dqlite -s ADDRS DB [SQL]`).",
        discussion: "With SQL (or a dot command) as the last argument it runs that once and exits; without, it reads lines from standard input.\n\n" + Shell.help
    )

    @OptionGroup var cluster: ClusterOptions

    @Option(name: [.short, .long], help: "Output format: tabular or json.")
    var format: String = "tabular"

    @Argument(help: "The database name.")
    var database: String

    @Argument(help: "SQL or a dot command to run once.")
    var command: [String] = []

    func run() async throws {
        guard let format = OutputFormat(rawValue: format) else {
            throw ValidationError("unknown format '\(format)': use tabular or json")
        }
        let config = try cluster.config()
        let addresses = cluster.addresses
        let shell: Shell
        do {
            shell = try Shell(servers: addresses, database: database, format: format, config: config)
        } catch {
            throw ValidationError("\(error)")
        }
        if !command.isEmpty {
            let ok = await runLine(command.joined(separator: " "), shell)
            await shell.close()
            if !ok { throw ExitCode.failure }
            return
        }
        let interactive = isatty(0) != 0
        let editor = interactive ? LineEditor(historyFile: LineEditor.defaultHistoryFile) : nil
        var failed = false
        while true {
            let next: String?
            if let editor { next = editor.readLine(prompt: "dqlite> ") } else { next = readLine() }
            guard let line = next else {
                if interactive { print() }  // Ctrl-D leaves the cursor after the prompt
                break
            }
            if line.trimmingCharacters(in: " ") == ".exit" || line.trimmingCharacters(in: " ") == ".quit" { break }
            if !(await runLine(line, shell)) { failed = true }
        }
        await shell.close()
        if failed && !interactive { throw ExitCode.failure }
    }

    private func runLine(_ line: String, _ shell: Shell) async -> Bool {
        do {
            let out = try await shell.execute(line)
            if !out.isEmpty { print(out) }
            return true
        } catch {
            FileHandleStandardError.write("Error: \(error)\n")
            return false
        }
    }
}

enum FileHandleStandardError {
    static func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
