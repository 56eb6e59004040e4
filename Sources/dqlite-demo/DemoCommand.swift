import ArgumentParser
import DemoServer
import DqliteApp
import DqliteFlags
import Foundation
import Logging

/// go-dqlite's dqlite-demo: a key/value HTTP API over an embedded DqliteApp.
@main
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite-demo",
        abstract: "go-dqlite's demo: an HTTP key/value API (GET/PUT /KEY) over a dqlite node embedded with DqliteApp.",
        discussion: """
            dqlite-demo --api 127.0.0.1:8001 --db 127.0.0.1:9001
            dqlite-demo --api 127.0.0.1:8002 --db 127.0.0.1:9002 --join 127.0.0.1:9001
            curl -X PUT -d my-value http://127.0.0.1:8001/my-key; curl http://127.0.0.1:8002/my-key
            Roles are automatic (3 voters, 3 stand-bys). SIGTERM or SIGINT hands leadership and role over, then stops.
            """
    )

    @Option(help: "Address of the HTTP API, HOST:PORT.")
    var api: String

    @Option(help: "Address of the dqlite node (clients and peers), HOST:PORT.")
    var db: String

    @Option(parsing: .singleValue, help: "Address of an existing node to join through (may repeat).")
    var join: [String] = []

    @Option(help: "Data directory; the node's data goes in DIR/<db address>.")
    var dir: String = "/tmp/dqlite-demo"

    @Flag(name: .shortAndLong, help: "Log the node's debug messages.")
    var verbose = false

    @Option(help: "Serve the node's metrics in Prometheus's text format at http://HOST:PORT/metrics.")
    var metrics: String?

    @OptionGroup(title: "Mutual TLS between the nodes and for their clients (go-dqlite's demo takes --cert and --key)")
    var tls: TLSOptions

    func validate() throws {
        for (flag, value) in [("--api", api), ("--db", db)] + join.map { ("--join", $0) } {
            guard let colon = value.lastIndex(of: ":"), UInt16(value[value.index(after: colon)...]) != nil else {
                throw ValidationError("\(flag) must be HOST:PORT, got '\(value)'")
            }
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        let logger = Logger(label: "dqlite-demo")
        var options = DqliteAppOptions()
        options.node.logger = logger
        options.node.tls = try tls.context { logger.warning("\($0)") }
        options.metricsAddress = metrics
        let app = try await DqliteApp(dir: dir + "/" + db, address: db, cluster: join.flatMap { $0.split(separator: ",").map(String.init) },
                                      options: options)
        try await app.ready()
        let api = KeyValueAPI(store: try await KeyValueStore(client: app.client))
        let server = Task { try await api.serve(on: self.api) { logger.info("HTTP API on \(self.api)") } }
        // Until SIGTERM/SIGINT, or until the API fails (then the node still hands over and closes).
        let signalled = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await TerminationSignal.wait() }
            group.addTask { _ = await server.result; return false }
            let first = await group.next() ?? true
            server.cancel()
            group.cancelAll()
            return first
        }
        if !signalled, case .failure(let error) = await server.result {
            logger.error("HTTP API: \(error)")
        }
        await app.close()
    }
}
