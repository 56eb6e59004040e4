import ArgumentParser
import DqliteClient
import DqliteFlags
import DqliteBench
import Foundation
import LocalCluster

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite-bench",
        abstract: "Benchmark a dqlite cluster with dqlite-benchmark's workloads (kvwrite, kvreadwrite) and kvread (reads only).",
        discussion: """
            Drives any cluster that speaks dqlite wire protocol v1: real dqlite or ours. Prints ops/s and latency
            p50/p90/p99/max per query type, errors by class, and this client's CPU time per operation.
            With --local-cluster N it first starts N real dqlite nodes (Debian's dqlite-demo) on loopback and
            stops them at the end.
            """
    )

    @Option(name: [.short, .long], parsing: .singleValue, help: "Comma-separated node addresses; may be repeated.")
    var cluster: [String] = []

    @Option(help: "Start this many real dqlite nodes (dqlite-demo) on loopback and benchmark them.")
    var localCluster: Int?

    @Option(name: .long, help: "Database name.")
    var database: String?

    @Option(name: [.short, .long], help: "kvwrite, kvreadwrite or kvread (reads only, of keys written before the clock starts).")
    var workload: String = "kvwrite"

    @Option(help: "Concurrent workers, each with its own connection.")
    var workers: Int = 1

    @Option(help: "Run duration in seconds.")
    var duration: Double = 60

    @Option(name: .customLong("ops"), help: "Run until this many writes (reads in kvread) succeeded, split over the workers, instead of for --duration: clusters compared at equal work.")
    var operations: Int?

    @Option(help: "At most this many operations per second, all workers together.")
    var rate: Double?

    @Option(help: "Key size in bytes.")
    var keySize: Int = 32

    @Option(help: "Value size in bytes.")
    var valueSize: Int = 1024

    @Option(help: "Seed of the key and value generator.")
    var seed: UInt64 = 1

    @Flag(help: "Prepare the statements once per worker (PREPARE + EXEC) instead of sending SQL each time (EXEC_SQL, as go-dqlite's benchmark does).")
    var prepared = false

    @Option(help: "Also write the figures as JSON to this file.")
    var results: String?

    @Option(help: "Also write every successful operation's start and latency (ms, CSV) to this file, to see when the slow ones happened.")
    var timeline: String?

    @OptionGroup(title: "Mutual TLS (a cluster whose nodes run with TLS)")
    var tls: TLSOptions

    func validate() throws {
        guard Workload(rawValue: workload) != nil else { throw ValidationError("unknown workload '\(workload)': use kvwrite, kvreadwrite or kvread") }
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        if let operations, operations < 1 { throw ValidationError("--ops must be at least 1") }
        if let rate, !(rate > 0) || !rate.isFinite { throw ValidationError("--rate must be a positive number of operations per second") }
        guard keySize > 0, valueSize >= 0 else { throw ValidationError("--key-size must be positive, --value-size not negative") }
        if let n = localCluster, n < 1 || n > 9 { throw ValidationError("--local-cluster takes 1 to 9 nodes") }
        guard localCluster != nil || !cluster.isEmpty else { throw ValidationError("give --cluster host:port,… or --local-cluster N") }
    }

    func run() async throws {
        var local: ProcessCluster?
        if let n = localCluster {
            print("starting \(n) real dqlite nodes (dqlite-demo) on loopback…")
            do {
                local = try await ProcessCluster.start(nodes: n)
            } catch {
                print("Error: \(error)")
                throw ExitCode.failure
            }
        }
        do {
            var options = BenchOptions(cluster: cluster.flatMap { $0.split(separator: ",").map(String.init) } + (local?.addresses ?? []))
            options.database = database ?? (local != nil ? "demo" : "benchmark")
            options.workload = Workload(rawValue: workload)!
            options.workers = workers
            options.duration = .milliseconds(Int(duration * 1000))
            options.operations = operations
            options.rate = rate
            options.keySize = keySize
            options.valueSize = valueSize
            options.seed = seed
            options.prepared = prepared
            options.keepTimeline = timeline != nil
            var config = ClientConfig()
            config.tls = try tls.context()
            let report = try await Benchmark.run(options, config: config)
            print(report.text())
            if let results { try (report.json() + "\n").write(toFile: results, atomically: true, encoding: .utf8) }
            if let timeline { try report.timelineCSV().write(toFile: timeline, atomically: true, encoding: .utf8) }
        } catch {
            await local?.stop()
            // A runtime failure: one line and a failing exit code, no usage text.
            print("Error: \(error)")
            throw ExitCode.failure
        }
        await local?.stop()
    }
}
