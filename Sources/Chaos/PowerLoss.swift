#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LocalCluster
import Synchronization

/// The power-loss faults of a run: every node's data dir is a FUSE mount of `dqlite-power-loss` (next to
/// dqlite-chaos) over a backing dir beside it, which remembers what was written and not synced. A power loss
/// kills the node (the nemesis does), then tells its filesystem to lose power: the filesystem unmounts, rolls
/// its files and directory entries back to what was synced, reports what it discarded and exits; a new one is
/// mounted in its place, and the node restarts on it when the fault ends.
final class PowerLossDisks: Sendable {
    let program: String
    private let logDirectory: String
    /// The filesystem process serving each node's dir, by node.
    private let daemons = Mutex<[Int: Process]>([:])
    /// Each node's mount point and backing dir.
    private let places = Mutex<[Int: (mount: String, backing: String)]>([:])
    /// Seeds the torn writes: the run's seed, moved on at each power loss.
    private let seeds: Mutex<SeededRandom>

    /// Nil when the plan has no power loss.
    static func make(plan: [PlannedFault], seed: UInt64, toolsDirectory: String, outputDirectory: String) throws -> PowerLossDisks? {
        guard plan.contains(where: { $0.type == .powerLoss }) else { return nil }
        let program = toolsDirectory + "/dqlite-power-loss"
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw ChaosError.harness("power-loss faults need the FUSE layer \(program) (swift build --product dqlite-power-loss)")
        }
        guard geteuid() == 0, access("/dev/fuse", R_OK | W_OK) == 0 else {
            throw ChaosError.harness("power-loss faults need root and /dev/fuse (each data dir is a FUSE mount)")
        }
        let logs = outputDirectory + "/power-loss"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let writeback = plan.filter { $0.type == .powerLoss }.compactMap(\.writebackS).max()
        return PowerLossDisks(program: program, logDirectory: logs, seed: seed, writebackS: writeback)
    }

    /// Changes older than this survive a power loss (periodic writeback); nil: only syncs count.
    let writebackS: Double?

    private init(program: String, logDirectory: String, seed: UInt64, writebackS: Double?) {
        self.writebackS = writebackS
        self.program = program
        self.logDirectory = logDirectory
        seeds = Mutex(SeededRandom(seed: seed).derived(0x90E7))
    }

    /// `placement` with each node's dir mounted through the power-loss layer before its first start.
    func wrap(_ placement: ProcessCluster.Placement) -> ProcessCluster.Placement {
        var p = placement
        let base = placement.prepare
        p.prepare = { i, dir in
            try base(i, dir)
            let backing = dir + ".disk"
            try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
            self.places.withLock { $0[i] = (dir, backing) }
            try self.mount(i)
        }
        return p
    }

    /// Cuts node `node`'s power (the node must be dead already): its disk forgets what was not synced, and
    /// comes back mounted, ready for the node to start. What was discarded is returned.
    func losePower(_ node: Int, torn: Bool) throws -> PowerLossReport {
        guard let daemon = daemons.withLock({ $0.removeValue(forKey: node) }),
              let place = places.withLock({ $0[node] }) else { throw ChaosError.harness("node \(node + 1) has no power-loss mount") }
        let report = reportPath(node)
        unlink(report)
        kill(daemon.processIdentifier, torn ? SIGUSR2 : SIGUSR1)
        let exited = daemon.waitForExit(timeout: .seconds(20))
        if !exited { kill(daemon.processIdentifier, SIGKILL) }
        Mounts.detachAll(under: place.mount)
        guard exited, let parsed = PowerLossReport(file: report) else {
            throw ChaosError.harness("the power-loss layer of node \(node + 1) did not roll back (see \(logPath(node)))")
        }
        try mount(node)
        return parsed
    }

    /// Stops every filesystem (a clean stop keeps what was written); after the cluster stopped its nodes.
    func stop() {
        let all = daemons.withLock { d in defer { d.removeAll() }; return Array(d.values) }
        for daemon in all {
            kill(daemon.processIdentifier, SIGTERM)
            if !daemon.waitForExit(timeout: .seconds(10)) { kill(daemon.processIdentifier, SIGKILL) }
        }
        for place in places.withLock({ Array($0.values) }) { Mounts.detachAll(under: place.mount) }
    }

    private func reportPath(_ node: Int) -> String { "\(logDirectory)/node\(node + 1).report" }
    private func logPath(_ node: Int) -> String { "\(logDirectory)/node\(node + 1).log" }

    /// Starts node `node`'s filesystem and waits until its mount is in the mount table.
    private func mount(_ node: Int) throws {
        guard let place = places.withLock({ $0[node] }) else { return }
        let seed = seeds.withLock { $0.next() % 1_000_000_000 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["--backing", place.backing, "--mount", place.mount, "--report", reportPath(node), "--seed", String(seed)]
            + (writebackS.map { ["--writeback-ms", String(Int($0 * 1000))] } ?? [])
        let log = logPath(node)
        let handle = try AppendedLog.open(log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        daemons.withLock { $0[node] = process }
        let deadline = ContinuousClock.now + .seconds(10)
        while !Mounts.isMounted(place.mount, type: "fuse") {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw ChaosError.harness("the power-loss layer did not mount on \(place.mount) (see \(log))")
            }
            usleep(5_000)
        }
    }

}

/// What one node's disk discarded at a power loss, as the layer reported it.
struct PowerLossReport: Codable, Sendable, Equatable {
    /// Files written since their last sync, rolled back.
    var files = 0
    /// Bytes of synced data put back where unsynced writes had overwritten them.
    var restoredBytes = 0
    /// Bytes cut off the ends of files grown since their last sync.
    var cutBytes = 0
    /// Directory changes (creates, renames, unlinks) undone for want of a sync of their directory.
    var dirOps = 0
    /// The prefix of the newest unsynced write that survived (torn), bytes.
    var tornBytes = 0
    /// Changes kept as written back already (old enough under `writeback_s`).
    var writtenBack = 0
    /// Roll-back steps that failed (said in the layer's log).
    var failures = 0

    enum CodingKeys: String, CodingKey {
        case files, restoredBytes = "restored_bytes", cutBytes = "cut_bytes", dirOps = "dir_ops", tornBytes = "torn_bytes",
             writtenBack = "written_back", failures
    }

    init() {}

    /// Reads the layer's report (`key value` lines); nil when it is missing.
    init?(file: String) {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, let v = Int(words[1]) { values[String(words[0])] = v }
        }
        files = values["files"] ?? 0
        restoredBytes = values["restored_bytes"] ?? 0
        cutBytes = values["cut_bytes"] ?? 0
        dirOps = values["dir_ops"] ?? 0
        tornBytes = values["torn_bytes"] ?? 0
        writtenBack = values["written_back"] ?? 0
        failures = values["failures"] ?? 0
    }
}
