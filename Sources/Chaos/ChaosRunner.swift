import DqliteClient
import DqliteWire
import Foundation
import LocalCluster

/// What a history check answered: nil `passed` means unknown (out of budget).
public struct HistoryVerdict: Sendable {
    public var passed: Bool?
    public var summary: String
    /// The anomaly types found (for `expect_anomalies`).
    public var anomalies: [String]
    public init(passed: Bool?, summary: String, anomalies: [String] = []) {
        self.passed = passed
        self.summary = summary
        self.anomalies = anomalies
    }
}

public struct RunOptions: Sendable {
    public var scenario: Scenario
    /// As given on the command line (for the reproduce command); nil for the built-in default.
    public var scenarioPath: String?
    public var scenarioDigest: String
    public var seed: UInt64
    public var outputDirectory: String
    /// Our dqlite-node (target dqlite-node).
    public var nodeExecutable: String
    /// Where the bed's helper programs are (the disk-fault launcher): next to dqlite-chaos.
    public var toolsDirectory: String
    /// A recorded timeline to apply instead of planning one (`--replay`).
    public var replay: [PlannedFault]?
    /// With `replay`: the run.json replayed, and what differs from it (reported and recorded).
    public var replayOf: String?
    public var replayDifferences: [String] = []
    /// Extra words for the reproduce command (e.g. `--target real-dqlite`).
    public var reproduceFlags: [String] = []
    /// Checks the history file (the Checker, linked by the executable).
    public var checkHistory: @Sendable (String) async -> HistoryVerdict
    /// Where the status lines go.
    public var say: @Sendable (String) -> Void

    public init(scenario: Scenario, scenarioPath: String?, scenarioDigest: String, seed: UInt64, outputDirectory: String,
                nodeExecutable: String, replay: [PlannedFault]?, checkHistory: @escaping @Sendable (String) async -> HistoryVerdict,
                say: @escaping @Sendable (String) -> Void) {
        self.scenario = scenario
        self.scenarioPath = scenarioPath
        self.scenarioDigest = scenarioDigest
        self.seed = seed
        self.outputDirectory = outputDirectory
        self.nodeExecutable = nodeExecutable
        self.toolsDirectory = (nodeExecutable as NSString).deletingLastPathComponent
        self.replay = replay
        self.checkHistory = checkHistory
        self.say = say
    }
}

/// One chaos run: cluster up, workload with faults, heal, final checks, artifacts, verdict.
public enum ChaosRunner {
    /// Exit codes: 0 the run met its expectation, 1 it did not (a check failed, or none did when one should
    /// have), 2 the harness itself failed.
    public static func run(_ o: RunOptions) async -> (record: RunRecord?, exitCode: Int32) {
        do {
            let record = try await runChecked(o)
            return (record, record.verdict == "pass" ? 0 : 1)
        } catch ChaosError.refused(let why) {
            o.say("refused: \(why)")
            return (nil, 64)
        } catch {
            o.say("harness error: \(error)")
            return (nil, 2)
        }
    }

    static func runChecked(_ o: RunOptions) async throws -> RunRecord {
        let s = o.scenario
        try FileManager.default.createDirectory(atPath: o.outputDirectory, withIntermediateDirectories: true)
        let plan = o.replay ?? FaultPlan.make(s, seed: o.seed)
        let reproduce = o.replayOf != nil ? "dqlite-chaos run --replay \(o.outputDirectory)/run.json"
            : (["dqlite-chaos run"] + (o.scenarioPath.map { [$0] } ?? []) + ["--seed", String(o.seed)] + o.reproduceFlags).joined(separator: " ")
        let target: ChaosTarget
        do { target = try ChaosTarget.make(s.cluster, nodeExecutable: o.nodeExecutable) } catch { throw ChaosError.refused("\(error)") }
        if let why = target.refusal(plan: plan, cluster: s.cluster) { throw ChaosError.refused(why) }
        o.say("scenario \(s.name), seed \(o.seed), target \(target.kind.rawValue), \(s.cluster.nodes) nodes, \(plan.count) faults planned, output \(o.outputDirectory)")
        for d in o.replayDifferences { o.say("replay: \(d)") }
        for l in target.limits { o.say("target: \(l)") }
        let net = try RunNetwork.make(for: s, plan: plan)
        o.say(net.summary)
        let disk: DiskFaults?, clocks: ClockFaults?, power: PowerLossDisks?
        do {
            disk = try DiskFaults.make(for: s, plan: plan, toolsDirectory: o.toolsDirectory, outputDirectory: o.outputDirectory)
            clocks = try ClockFaults.make(for: s, plan: plan, toolsDirectory: o.toolsDirectory, outputDirectory: o.outputDirectory)
            power = try PowerLossDisks.make(plan: plan, seed: o.seed, toolsDirectory: o.toolsDirectory, outputDirectory: o.outputDirectory)
        } catch {
            net.remove()
            throw error
        }
        if let clocks { o.say("clock faults: every node runs with \(clocks.library)") }
        if let disk {
            o.say("disk faults: " + [disk.launcher.map { "errors through \($0)" }, disk.tmpfsBytes.map { "data dirs on \($0 >> 20) MiB tmpfs" }]
                .compactMap { $0 }.joined(separator: "; "))
        }
        if let power { o.say("power-loss faults: every data dir is a FUSE mount of \(power.program)") }
        // Node i's metrics endpoint: its own host, port metricsPorts[i] (distinct, for loopback isolation).
        var metricsPorts: [UInt16] = []
        while metricsPorts.count < 16 {
            let p = (try? freeLoopbackPort()) ?? UInt16(9100 + metricsPorts.count)
            if !metricsPorts.contains(p) { metricsPorts.append(p) }
        }
        let cluster: ProcessCluster
        do {
            let placement = disk?.wrap(net.placement) ?? net.placement
            let certificates = s.cluster.tls ? try ClusterCertificates.make(in: o.outputDirectory + "/tls") : nil
            if certificates != nil { o.say("TLS: mutual, every node and client with the certificates in tls/") }
            let metrics = target.kind == .dqliteNode ? metricsPorts : nil
            cluster = try await ProcessCluster.start(nodes: s.cluster.nodes, kind: target.processKind,
                                                     placement: power?.wrap(placement) ?? placement,
                                                     environment: { clocks?.environment($0) ?? [:] },
                                                     nodeFlags: { i in (certificates?.flags ?? []) + (metrics.map { ["--metrics", "{host}:\($0[i % $0.count])"] } ?? []) },
                                                     tls: try certificates.map { try TLSContext($0.files) })
        } catch {
            power?.stop()
            net.remove()
            throw ChaosError.harness("target \(target.kind.rawValue) did not start: \(error)")
        }
        // Ctrl-C or SIGTERM: the nodes (by the pids the cluster recorded) and their files go too.
        let root = cluster.root
        InterruptCleanup.register(root) {
            let pids = (try? String(contentsOfFile: root + "/pids", encoding: .utf8)) ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            // tmpfs and power-loss mounts first (a power-loss layer exits once its mount is gone).
            Mounts.detachAll(under: root)
            try? FileManager.default.removeItem(atPath: root)
        }
        defer { InterruptCleanup.unregister(root) }
        // Logs always; data dirs only when something failed. Copied before the cluster removes its files.
        func collect(keepData: Bool) {
            let root = cluster.root, out = o.outputDirectory
            for i in 1...32 where FileManager.default.fileExists(atPath: "\(root)/node\(i).log") {
                try? FileManager.default.copyItem(atPath: "\(root)/node\(i).log", toPath: "\(out)/node\(i).log")
                if keepData { try? FileManager.default.copyItem(atPath: "\(root)/node\(i)", toPath: "\(out)/data-node\(i)") }
            }
        }
        do {
            let record = try await drive(o, plan: plan, cluster: cluster, metricsPorts: metricsPorts, target: target, network: net.nemesis(), disk: disk, clocks: clocks,
                                         power: power, isolation: net.isolation.rawValue, reproduce: reproduce)
            collect(keepData: record.verdict != "pass" || record.checksFailed)
            await cluster.stop()
            power?.stop()
            net.remove()
            return record
        } catch {
            collect(keepData: true)
            await cluster.stop()
            power?.stop()
            net.remove()
            throw error
        }
    }

    private static func drive(_ o: RunOptions, plan: [PlannedFault], cluster: ProcessCluster, metricsPorts: [UInt16], target: ChaosTarget, network: NetworkNemesis?,
                              disk: DiskFaults?, clocks: ClockFaults?, power: PowerLossDisks?, isolation: String, reproduce: String) async throws -> RunRecord {
        let s = o.scenario
        let clients = try WorkloadClients(spec: s.workload, addresses: cluster.addresses, tls: cluster.tls)
        let client = clients.shared

        let start = ContinuousClock.now
        let historyPath = o.outputDirectory + "/history.jsonl"
        let stats = WorkloadStats()
        let model = WorkloadSpec.Model(rawValue: s.workload.model) ?? .listAppend
        let history = try HistoryWriter(path: historyPath, metadata: ["scenario": s.name, "seed": String(o.seed), "model": model.historyModel], start: start)
        // Every node's metrics while the workload runs (dqlite-node; other targets have no endpoint).
        let scraper = target.kind == .dqliteNode ? try MetricsScraper(path: o.outputDirectory + "/metrics.jsonl", start: start) : nil
        func scrapeTargets() async -> [Int: String] {
            var t: [Int: String] = [:]
            for (i, a) in await cluster.allAddresses.enumerated() { t[i + 1] = ProcessCluster.host(of: a) + ":\(metricsPorts[i % metricsPorts.count])" }
            return t
        }
        scraper?.setTargets(await scrapeTargets())
        scraper?.run()
        let workload: any ChaosWorkload = switch model {
        case .listAppend:
            AppendWorkload(spec: s.workload, clients: clients, history: history,
                           keys: KeySpace(keys: s.workload.keys, maxWritesPerKey: s.workload.maxWritesPerKey), stats: stats)
        case .set: SetWorkload(spec: s.workload, clients: clients, history: history, stats: stats)
        case .register: RegisterWorkload(spec: s.workload, clients: clients, history: history, stats: stats)
        }
        try await retry(for: .seconds(30)) {
            let c = try await client.open(AppendWorkload.database)
            defer { Task { await c.close() } }
            for statement in workload.schema { _ = try await c.exec(statement) }
            _ = try await c.exec("CREATE TABLE IF NOT EXISTS liveness (id INTEGER PRIMARY KEY, t INTEGER)")
        }
        let nemesis = Nemesis(cluster: cluster, history: history, target: target, network: network, disk: disk, clocks: clocks, gate: clients.gate, power: power)
        let end = start + .seconds(s.durationS)
        let root = SeededRandom(seed: o.seed)
        var crashes: [Int] = []
        let initialLeader = try? await cluster.leaderIndex(config: Nemesis.quickConfig(cluster.tls))
        var leaderChanged = false

        await withTaskGroup(of: Void.self) { group in
            for i in 0..<s.workload.concurrency {
                group.addTask { await workload.worker(i, rng: root.derived(UInt64(i + 1)), until: end) }
            }
            group.addTask { await nemesis.run(plan, start: start) }
            // Status every few seconds; crashes are noticed (and restarted) here.
            while ContinuousClock.now < end {
                try? await Task.sleep(for: .seconds(min(3, max(0.1, s.durationS / 4))))
                crashes += await nemesis.reapCrashes()
                scraper?.setTargets(await scrapeTargets())
                let leader = try? await cluster.leaderIndex(config: Nemesis.quickConfig(cluster.tls))
                if let leader, let initialLeader, leader != initialLeader { leaderChanged = true }
                let (ok, fail, info) = await stats.snapshot
                let faults = await nemesis.current
                let t = Int((ContinuousClock.now - start).components.seconds)
                o.say("t=\(t)s ok=\(ok) fail=\(fail) info=\(info) faults=[\(faults.joined(separator: ", "))] leader=\(leader.map { "n\($0 + 1)" } ?? "none")")
            }
            await group.waitForAll()
        }
        await nemesis.heal()
        crashes += await nemesis.reapCrashes()
        var checks: [CheckOutcome] = []

        // Liveness: a write succeeds again within the bound after healing.
        let healed = ContinuousClock.now
        var live = false
        do {
            try await retry(for: .seconds(s.final.recoverWithinS)) {
                let c = try await client.open(AppendWorkload.database)
                defer { Task { await c.close() } }
                _ = try await c.exec("INSERT INTO liveness (t) VALUES (?)", [.integer(Int64((ContinuousClock.now - start).components.seconds))])
            }
            live = true
        } catch {}
        let recovery = ContinuousClock.now - healed
        checks.append(CheckOutcome(name: "liveness", passed: live,
                                   detail: live ? "a write succeeded \(recovery) after healing" : "no write succeeded within \(s.final.recoverWithinS) s of healing"))
        try? await Task.sleep(for: .seconds(s.final.settleS))

        // Final reads through the leader, recorded in the history like any operation.
        let leaderState = await workload.finalRead(process: 1_000_000) ?? [:]
        await history.close()
        scraper?.stop()

        // Durability and convergence, from every node's own copy (its DUMP), given time to catch up.
        var lost: [String] = [], diverged: [String] = []
        let refused = await nemesis.refused
        for (i, address) in await cluster.allAddresses.enumerated() where !refused.contains(i) && target.canDump {
            var state: WorkloadState = [:]
            let deadline = ContinuousClock.now + .seconds(15)
            let scratch = o.outputDirectory + "/.dump-n\(i + 1)"
            repeat {
                if let path = try? await NodeContents.dump(at: address, database: AppendWorkload.database, scratch: scratch, tls: cluster.tls) {
                    state = (try? workload.state(ofDump: path)) ?? [:]
                }
                if state == leaderState { break }
                try? await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            try? FileManager.default.removeItem(atPath: scratch)
            lost += await workload.missing(from: state).map { "n\(i + 1) \($0)" }
            if state != leaderState { diverged.append("n\(i + 1) differs from the leader's final reads") }
        }
        let durable = await workload.acknowledgedSummary()
        let skipped = refused.isEmpty ? "" : " (n\(refused.map { String($0 + 1) }.sorted().joined(separator: ", n")) refused to start after damage at rest, with a clear error)"
        if target.canDump {
            checks.append(CheckOutcome(name: "durability", passed: lost.isEmpty,
                                       detail: lost.isEmpty ? durable : lost.prefix(5).joined(separator: "; ")))
            checks.append(CheckOutcome(name: "convergence", passed: diverged.isEmpty,
                                       detail: (diverged.isEmpty ? "every node holds what the final reads saw" : diverged.joined(separator: "; ")) + skipped))
        } else {
            for name in ["durability", "convergence"] {
                checks.append(CheckOutcome(name: name, passed: true, detail: "not checked: target \(target.kind.rawValue) does not answer DUMP (cluster.dump: false)", skipped: true))
            }
        }

        // The history, by the checker.
        let verdict = await o.checkHistory(historyPath)
        checks.append(CheckOutcome(name: "history", passed: verdict.passed == true, detail: verdict.summary))

        // Crashes: a node that died on its own, or logged a fatal error.
        var fatal: [String] = []
        var snapshotRestores = 0
        for i in 1...(await cluster.allAddresses.count) {
            let log = (try? String(contentsOfFile: "\(cluster.root)/node\(i).log", encoding: .utf8)) ?? ""
            snapshotRestores += log.components(separatedBy: "installed a snapshot").count - 1
            if target.crashMarkers.contains(where: { log.contains($0) }) { fatal.append("n\(i)") }
        }
        let markerNote = target.crashMarkers.isEmpty ? " (no crash log lines known for this target: only exits the nemesis did not cause count)" : ""
        checks.append(CheckOutcome(name: "crashes", passed: crashes.isEmpty && fatal.isEmpty,
                                   detail: (crashes.isEmpty && fatal.isEmpty ? "no node crashed"
                                       : "crashed: \(crashes.map { "n\($0)" }) fatal log lines: \(fatal)") + markerNote))

        let counted = checks.filter { c in c.skipped != true && s.checks.contains { $0.rawValue == c.name } }
        let allPassed = counted.allSatisfy(\.passed)
        let anomalyMatched = s.expectAnomalies.isEmpty || verdict.anomalies.contains { found in
            s.expectAnomalies.contains { found == $0 || found.hasPrefix($0 + "-") }
        }
        let met = s.expect == .pass ? allPassed : (!allPassed && anomalyMatched)
        if s.expect == .fail {
            o.say("expected failure: \(allPassed ? "no check failed" : "checks failed")" + (s.expectAnomalies.isEmpty ? "" :
                ", anomalies \(verdict.anomalies) \(anomalyMatched ? "include" : "do not include") one of \(s.expectAnomalies)"))
        }
        let (ok, fail, info) = await stats.snapshot
        let applied = await nemesis.applied
        let commit: String
        if let c = ProcessInfo.processInfo.environment["DQLITE_CHAOS_COMMIT"] { commit = c } else { commit = await gitCommit() }
        var record = RunRecord(scenario: s.name, scenarioPath: o.scenarioPath, scenarioDigest: o.scenarioDigest, seed: o.seed,
                               commit: commit,
                               expect: s.expect.rawValue, anomalies: verdict.anomalies, plannedFaults: plan, appliedFaults: applied,
                               checks: checks, ok: ok, fail: fail, info: info, crashes: crashes,
                               leaderChanged: leaderChanged || applied.contains { $0.wasLeader && ($0.type == .kill || $0.type == .stop) },
                               verdict: met ? "pass" : "fail", reproduce: reproduce)
        record.isolation = isolation
        record.failStops = await nemesis.failStops
        record.snapshotRestores = snapshotRestores
        record.scenarioSpec = s
        record.target = target.kind.rawValue
        record.program = target.program
        record.programDigest = FileDigest.fnv64(path: await cluster.executablePath)
        let skippedFaults = await nemesis.skipped
        record.skippedFaults = skippedFaults.isEmpty ? nil : skippedFaults
        record.targetLimits = target.limits.isEmpty ? nil : target.limits
        record.replayOf = o.replayOf
        record.replayDifferences = o.replayDifferences.isEmpty ? nil : o.replayDifferences
        try record.write(to: o.outputDirectory + "/run.json")
        for f in skippedFaults { o.say("fault skipped: \(f)") }
        for c in checks {
            let state = c.skipped == true ? "skipped" : c.passed ? "ok" : "FAILED"
            o.say("check \(c.name): \(state)\(s.checks.contains { $0.rawValue == c.name } ? "" : " (not counted)") - \(c.detail)")
        }
        o.say("sometimes: leader changed \(record.leaderChanged ? "yes" : "no"), info operations \(info), faults applied \(record.appliedFaults.count), snapshots installed or loaded \(snapshotRestores), stops on disk faults \(record.failStops ?? 0)")
        return record
    }

    /// Runs `body` until it succeeds or `duration` passes (the last error is rethrown).
    static func retry(for duration: Duration, _ body: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + duration
        while true {
            do {
                return try await body()
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    static func gitCommit() async -> String {
        let r = try? await CommandRunner.run("/usr/bin/git", ["rev-parse", "HEAD"], timeout: .seconds(5))
        return r.map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown"
    }
}
