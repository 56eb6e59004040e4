import ArgumentParser
import DqliteFlags
import CAIODestroy
import CSegmentPrefill
import DqliteApp
import DqliteClient
import DqliteNode
import DqliteWire
import Foundation
import Logging
import Synchronization

@main
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite-node",
        abstract: "A dqlite node: SQLite replicated with C-Raft, serving dqlite wire protocol v1 on one address.",
        version: "0.1.0 (dqlite wire protocol v1; C-Raft 0.15)",
        subcommands: [RunNode.self, RecoverNode.self],
        defaultSubcommand: RunNode.self
    )
}

struct RunNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node (the default: `dqlite-node --id ... --address ... --dir ...`).",
        discussion: """
            A node whose id is 1 bootstraps a one-voter cluster on its first start; other nodes join through
            --join (ADD as spare, then ASSIGN voter while fewer than three voters exist, else stand-by; with
            --auto-roles the leader gives each node the role the cluster needs, as go-dqlite's app). A restart
            with the same --dir resumes. SIGTERM or SIGINT hands leadership (and with --auto-roles, the role)
            over, then stops. Built on the DqliteApp library.
            """
    )

    @Option(help: "This node's id (1 bootstraps the cluster).")
    var id: UInt64

    @Option(help: "Address for clients and peers, HOST:PORT (numeric host).")
    var address: String

    @Option(help: "Data directory (the Raft log and snapshots).")
    var dir: String

    @Option(parsing: .singleValue, help: "Addresses of existing nodes to join through (comma-separated; may repeat).")
    var join: [String] = []

    @Option(help: "Raft election timeout in milliseconds.")
    var electionTimeout: UInt32 = 500

    @Option(help: "Raft heartbeat timeout in milliseconds.")
    var heartbeatTimeout: UInt32 = 100

    @Flag(inversion: .prefixedNo, help: "Elect a new leader as soon as the leader's host refuses connections (its process died), rather than after the election timeout. Off: Raft's timers alone, as dqlite.")
    var fastFailover = true

    @Option(help: "Take a snapshot every this many entries.")
    var snapshotThreshold: UInt32 = 1024

    @Option(help: "MiB of entries applied after which a snapshot is taken even before --snapshot-threshold entries (big entries: transactions of many rows).")
    var snapshotThresholdMib: UInt32 = 16

    @Option(help: "Defer each snapshot until the log applied since the last one is this many times that snapshot's size, or --snapshot-log-max-mib (big databases are snapshotted less often; more log in memory); 0 takes one every --snapshot-threshold entries, as dqlite does.")
    var snapshotLogRatio: Double = 2

    @Option(help: "MiB of log applied since the last snapshot after which the next is never deferred (see --snapshot-log-ratio).")
    var snapshotLogMaxMib: UInt32 = 256

    @Option(help: "Milliseconds without a write after which a node takes the snapshot --snapshot-log-ratio deferred and hands its free memory back; 0: never.")
    var snapshotIdleMs: UInt32 = 2000

    @Option(help: "Entries kept in the log after a snapshot.")
    var snapshotTrailing: UInt32 = 8192

    @Option(help: "MiB of entries the log keeps after a snapshot at most: fewer than --snapshot-trailing entries when entries are big (grouped commits).")
    var snapshotTrailingMib: UInt32 = 8

    @Option(help: "Milliseconds a write waits for the write lock before failing with 'database is locked' (0: fail at once, as dqlite 1.11).")
    var busyTimeout: UInt32 = 5000

    @Option(help: "Milliseconds a write waits for its Raft entry to commit before it fails with 'commit timed out' (outcome unknown: it may still commit; 0: wait for Raft or the client).")
    var applyTimeout: UInt32 = 10_000

    @Flag(help: "Serve reads without confirming leadership (dqlite's behaviour; a deposed leader may answer stale data).")
    var staleReads = false

    @Option(help: "Least important messages logged (standard error): trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Size of the Raft log's segment files, MiB (each new one is written with zeros first; smaller means smaller, more even disk bursts).")
    var segmentSize: UInt32 = 8

    @Flag var snapshotCompression = SnapshotCompressionFlag.on

    @Flag(inversion: .prefixedNo, help: "Write the Raft log's FRAMES entries LZ4-compressed when smaller (ours: about 40% fewer log bytes; every node reads both). Off: C dqlite's entry bytes exactly.")
    var logCompression = true

    @Option(help: "Milliseconds a leader waits for a follower to install a small snapshot before resending it; grows with the snapshot's size (0: four election timeouts, at least 2000).")
    var installSnapshotTimeout: UInt32 = 0

    @Flag(help: "TEST ONLY, breaks guarantees on purpose: acknowledge a commit before Raft commits it (for the chaos gate's expect-fail scenarios).")
    var unsafeAckBeforeCommit = false

    @Flag(help: "TEST ONLY, breaks guarantees on purpose: tell Raft each log append is stored at once and write it a second later (for the chaos gate's power-loss expect-fail scenario).")
    var unsafeAckBeforeSync = false

    @Flag(help: "TEST ONLY, breaks guarantees on purpose: let C-Raft 0.15 commit entries of earlier terms by counting replicas (Raft's figure 8, as C dqlite 1.11 does).")
    var unsafeOldTermCommits = false

    @Flag(help: "TEST ONLY, breaks guarantees on purpose: grant read leases whatever the voters' clock rates (no clock check; for the chaos gate's expect-fail scenarios).")
    var unsafeLeaseAnyClock = false

    @Option(help: "Failure domain reported by DESCRIBE (with --auto-roles, voters and stand-bys are spread over domains).")
    var failureDomain: UInt64 = 0

    @Option(help: "Weight reported by DESCRIBE (with --auto-roles, a lower weight is preferred for a role).")
    var weight: UInt64 = 0

    @Option(help: "Serve metrics in Prometheus's text format at http://HOST:PORT/metrics.")
    var metrics: String?

    @OptionGroup(title: "Mutual TLS for clients and peers on --address (plain TCP without)")
    var tls: TLSOptions

    @Flag(help: "The leader manages roles as go-dqlite's app: --voters voters and --stand-bys stand-bys, spread over failure domains; an unreachable member's role goes to an online one.")
    var autoRoles = false

    @Option(help: "Voters the leader keeps with --auto-roles.")
    var voters: Int = 3

    @Option(help: "Stand-bys the leader keeps with --auto-roles.")
    var standBys: Int = 3

    @Option(help: "Milliseconds between the leader's role adjustments with --auto-roles.")
    var rolesInterval: UInt32 = 1000

    @Option(help: "Milliseconds a member may not answer the leader before it loses its role, with --auto-roles.")
    var unreachableAfter: UInt32 = 3000

    func validate() throws {
        guard id > 0 else { throw ValidationError("--id must be positive") }
        guard electionTimeout > heartbeatTimeout, heartbeatTimeout > 0 else {
            throw ValidationError("--election-timeout must exceed --heartbeat-timeout, which must be positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...65536).contains(snapshotThresholdMib) else { throw ValidationError("--snapshot-threshold-mib must be 1...65536") }
        guard (1...65536).contains(snapshotTrailingMib) else { throw ValidationError("--snapshot-trailing-mib must be 1...65536") }
        guard snapshotLogRatio.isFinite, (0...1000).contains(snapshotLogRatio) else { throw ValidationError("--snapshot-log-ratio must be 0...1000") }
        guard (1...65536).contains(snapshotLogMaxMib) else { throw ValidationError("--snapshot-log-max-mib must be 1...65536") }
        guard (1...1024).contains(segmentSize) else { throw ValidationError("--segment-size must be 1...1024 MiB") }
        guard snapshotTrailing >= snapshotThreshold, snapshotTrailing >= 4 else {
            throw ValidationError("--snapshot-trailing must be at least --snapshot-threshold and at least 4")
        }
        guard voters >= 1, standBys >= 0 else { throw ValidationError("--voters must be at least 1 and --stand-bys at least 0") }
        if id != 1 && join.isEmpty && !NodeDirectory.hasState(dir) {
            throw ValidationError("node \(id) has no state in \(dir): give --join ADDRESS of a running node (only id 1 bootstraps)")
        }
    }

    func run() async throws {
        var settings = NodeSettings()
        settings.electionTimeoutMs = electionTimeout
        settings.heartbeatTimeoutMs = heartbeatTimeout
        settings.fastFailover = fastFailover
        settings.snapshotThreshold = snapshotThreshold
        settings.snapshotThresholdBytes = Int(snapshotThresholdMib) << 20
        settings.snapshotTrailing = snapshotTrailing
        settings.snapshotTrailingBytes = Int(snapshotTrailingMib) << 20
        settings.snapshotLogRatio = snapshotLogRatio
        settings.snapshotLogMaxBytes = Int(snapshotLogMaxMib) << 20
        settings.snapshotIdleMs = snapshotIdleMs
        settings.busyTimeoutMs = busyTimeout
        settings.applyTimeoutMs = applyTimeout
        settings.staleReads = staleReads
        settings.unsafeAckBeforeCommit = unsafeAckBeforeCommit
        settings.unsafeOldTermCommits = unsafeOldTermCommits
        settings.unsafeLeaseAnyClock = unsafeLeaseAnyClock
        settings.unsafeAckBeforeSync = unsafeAckBeforeSync
        settings.segmentSizeMiB = segmentSize
        settings.snapshotCompression = SnapshotCompression(rawValue: snapshotCompression.rawValue)!
        settings.logCompression = logCompression
        settings.installSnapshotTimeoutMs = installSnapshotTimeout
        NodeLog.start(level: Logger.Level(rawValue: logLevel) ?? .info)
        settings.logger = NodeLog.logger
        settings.tls = try tls.context { NodeLog.logger.warning("\($0)") }
        var options = DqliteAppOptions()
        options.id = id
        options.node = settings
        options.failureDomain = failureDomain
        options.weight = weight
        options.automaticRoles = autoRoles
        options.metricsAddress = metrics
        options.voters = voters
        options.standBys = standBys
        options.rolesAdjustmentInterval = .milliseconds(Int(rolesInterval))
        options.unreachableAfter = .milliseconds(Int(unreachableAfter))
        let app: DqliteApp
        do {
            app = try await DqliteApp(dir: dir, address: address, cluster: join.flatMap { $0.split(separator: ",").map(String.init) },
                                      options: options)
        } catch {
            fail("\(error)")
        }
        await TerminationSignal.wait()
        log("stopping node \(id)")
        await app.close()
        NodeLog.logger.debug("io_destroy calls finished off the loop thread: \(dqlite_aio_destroys_deferred())")
        NodeLog.logger.debug("open segments written with zeros when allocated: \(dqlite_segments_prefilled())")
    }
}

/// The executable's logging: swift-log to standard error, at the level `--log-level` sets.
enum NodeLog {
    private static let level = Mutex<Logger.Level>(.info)

    static func start(level: Logger.Level) {
        self.level.withLock { $0 = level }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static var logger: Logger {
        var l = Logger(label: "dqlite-node")
        l.logLevel = level.withLock { $0 }
        return l
    }
}

func log(_ message: String) {
    NodeLog.logger.info("\(message)")
}

func fail(_ message: String) -> Never {
    NodeLog.logger.critical("\(message)")
    exit(1)
}

/// `SnapshotCompression` as flags: the two dqlite has, and one for `auto`.
enum SnapshotCompressionFlag: String, EnumerableFlag {
    case on, off, auto

    static func name(for value: Self) -> NameSpecification {
        switch value {
        case .on: .customLong("snapshot-compression")
        case .off: .customLong("no-snapshot-compression")
        case .auto: .customLong("auto-snapshot-compression")
        }
    }

    static func help(for value: Self) -> ArgumentHelp? {
        switch value {
        case .on: "Compress snapshots with LZ4 (the default, as dqlite's): their LZ4 checksum is how damage at rest is found at a start."
        case .off: "Store snapshots uncompressed."
        case .auto: "Compress a snapshot only when a sample of its pages compresses to half or less (less memory and CPU for pages that do not compress; an uncompressed snapshot carries no checksum)."
        }
    }
}
