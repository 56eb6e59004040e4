import Foundation

public struct CampaignOptions: Sendable {
    public var plan: CampaignPlan
    public var outputDirectory: String
    /// The `dqlite-chaos` that runs each run (normally this very executable).
    public var chaosExecutable: String
    /// Runs at once.
    public var jobs: Int
    public var say: @Sendable (String) -> Void

    public init(plan: CampaignPlan, outputDirectory: String, chaosExecutable: String, jobs: Int = 1, say: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.outputDirectory = outputDirectory
        self.chaosExecutable = chaosExecutable
        self.jobs = jobs
        self.say = say
    }
}

/// Many seeded runs, each a `dqlite-chaos run` subprocess (its own process: a run that crashes or leaks takes
/// nothing else with it, and its output goes to its own log), up to `jobs` at once.
public enum CampaignRunner {
    public static func run(_ o: CampaignOptions) async throws -> CampaignSummary {
        let out = o.outputDirectory
        try FileManager.default.createDirectory(atPath: out + "/runs", withIntermediateDirectories: true)
        try CampaignFiles.writePlan(o.plan, to: out)
        let results = try ResultsFile(path: CampaignFiles.resultsPath(out))
        let runs = o.plan.runs
        let jobs = max(1, o.jobs)
        func count(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }
        o.say("campaign: \(count(runs.count, "run")) (\(count(o.plan.scenarios.count, "scenario")) × \(count(o.plan.seeds.count, "seed"))"
            + (o.plan.shard == .whole ? "" : ", shard \(o.plan.shard) of \(count(o.plan.allRuns.count, "run"))") + "), \(jobs) at once, output \(out)")

        // SIGTERM or Ctrl-C to the campaign: each run gets SIGTERM, so it removes its nodes and namespaces.
        let children = ChildProcesses()
        let key = "campaign-\(ProcessInfo.processInfo.processIdentifier)"
        InterruptCleanup.register(key) { children.terminateAll() }
        defer { InterruptCleanup.unregister(key) }

        let start = ContinuousClock.now
        var progress = CampaignProgress(total: runs.count, jobs: jobs)
        var rows: [CampaignResult] = []
        await withTaskGroup(of: CampaignResult.self) { group in
            var next = 0
            while next < min(jobs, runs.count) {
                let run = runs[next]
                group.addTask { await runOne(run, o: o, children: children) }
                next += 1
            }
            for await row in group {
                // Interrupted: the runs killed on the way out are missing, not harness errors, and none starts.
                if children.isStopping { continue }
                rows.append(row)
                results.append(row)
                progress.record(row)
                o.say(progress.line(elapsedS: seconds(since: start)) + " - \(row.scenario) seed \(row.seed): " + outcome(row))
                if !row.met {
                    // The end of a harness error's log says why; the whole log is a path away.
                    for line in (row.error ?? "").split(separator: "\n").dropFirst().suffix(3) { o.say("  | " + line) }
                    o.say("  log \(CampaignFiles.logPath(out, row.key)); reproduce: \(row.reproduce)")
                }
                if next < runs.count && !children.isStopping {
                    let run = runs[next]
                    group.addTask { await runOne(run, o: o, children: children) }
                    next += 1
                }
            }
        }

        let sources = [out + (o.plan.shard == .whole ? "" : " (shard \(o.plan.shard))")]
        let summary = CampaignSummary.make(results: rows, expected: runs.map(\.id), elapsedS: seconds(since: start), sources: sources)
        var links: [CampaignRunID: String] = [:]
        for r in rows { links[r.id] = CampaignFiles.link(from: out, runsIn: out, key: r.key) }
        try CampaignFiles.writeSummary(summary, results: rows, links: links, to: out)
        if children.isStopping {
            // Interrupted: InterruptCleanup exits (128 + signal) once every run has stopped; wait for that rather
            // than race it with a second exit. The summary above already lists the runs that never finished.
            while true { try? await Task.sleep(for: .seconds(60)) }
        }
        return summary
    }

    static func outcome(_ row: CampaignResult) -> String {
        if row.isHarnessError { return "no verdict (\(CampaignResult.exitDescription(row.exitCode)))" }
        let caught = row.expect == Scenario.Expectation.fail.rawValue && !row.failedChecks.isEmpty
        return (row.met ? "met" : "NOT MET") + (caught ? " (caught: \(row.failedChecks.joined(separator: ", ")))" : "")
            + (!row.met && !row.failedChecks.isEmpty ? " (checks failed: \(row.failedChecks.joined(separator: ", ")))" : "")
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// `dqlite-chaos run SCENARIO --seed S --out OUT/runs/<name>-<seed> [--target T]`, output to its log.
    static func runOne(_ run: CampaignRun, o: CampaignOptions, children: ChildProcesses) async -> CampaignResult {
        let out = o.outputDirectory, key = run.key
        let dir = CampaignFiles.runDirectory(out, key), logPath = CampaignFiles.logPath(out, key)
        // A run.json left by an earlier campaign in this dir must not pass for this run's.
        try? FileManager.default.removeItem(atPath: dir)
        let start = ContinuousClock.now
        var code: Int32 = 127
        if FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: o.chaosExecutable)
            p.arguments = ["run", run.scenario.path, "--seed", String(run.seed), "--out", dir] + (o.plan.target.map { ["--target", $0] } ?? []) + (o.plan.runFlags ?? [])
            p.standardOutput = log
            p.standardError = log
            p.standardInput = FileHandle.nullDevice
            code = await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
                p.terminationHandler = { p in
                    // Killed by a signal: reported as a shell would (128 + signal), never confused with 1 or 2.
                    c.resume(returning: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus)
                }
                do {
                    guard !children.isStopping else { throw CancellationError() }
                    try p.run()
                    children.add(p.processIdentifier)
                } catch {
                    p.terminationHandler = nil
                    log.write(Data("dqlite-chaos campaign: cannot start \(o.chaosExecutable): \(error)\n".utf8))
                    c.resume(returning: 127)
                }
            }
            children.remove(p.processIdentifier)
            try? log.close()
        }
        return CampaignResult.make(run: run, exitCode: code, runJSON: dir + "/run.json", log: logPath, target: o.plan.target,
                                   wallSeconds: (seconds(since: start) * 10).rounded() / 10)
    }
}
