import ArgumentParser
import Chaos
import Foundation
import LocalCluster

/// `dqlite-chaos run [SCENARIO] [--seed N] [--replay run.json] [--out DIR]`: the project's main job.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a chaos scenario against a local cluster (our dqlite-node, real dqlite, or your program) and check what happened.",
        discussion: """
        Starts the scenario's cluster of the target's processes (--target: dqlite-node, real-dqlite, or command
        with a --command template; each node with its own temp dir and log, in its own network namespace when
        run as root, else on loopback), runs the scenario's workload through the Swift client while faults
        (kill, stop, pause, partition, delay, loss, transfer, member, corrupt, disk, full, clock) hit the nodes, heals,
        checks the recorded history and every node's data, and ends with the verdict and the command that
        reproduces the run. Without a scenario, a built-in default runs (3 nodes, kills and pauses, 30 s).
        Exit status: 0 the run met its expectation, 1 a check failed (or an expect: fail scenario passed),
        2 harness error, 64 bad usage, a malformed scenario, or a fault the target cannot take.
        --replay run.json applies the faults as applied there, each on its node at its offset, with the
        recorded scenario and seed; what differs (scenario file, node program, seed, overrides) is reported.
        """)

    @Argument(help: "A scenario file (YAML, see Scenarios/); the built-in default when omitted.")
    var scenario: String?

    @Option(help: "Seed of every random choice (printed when chosen for you).")
    var seed: UInt64?

    @Option(help: "Replay the fault timeline (and seed) recorded in this run.json.")
    var replay: String?

    @Option(help: "Directory for the artifacts (history, run.json, node logs, report); default runs/<scenario>-<seed>.")
    var out: String?

    @Option(help: "The dqlite-node binary (default: next to this one).")
    var node: String?

    @Option(help: "The program under test: dqlite-node, real-dqlite (Debian's C dqlite through dqlite-demo) or command (overrides cluster.target).")
    var target: String?

    @Option(help: "With --target command: the template that starts node {id} at {address} with {dir}, joining {join} (see the README).")
    var command: String?

    @Option(help: "Override the scenario's duration, in seconds.")
    var duration: Double?

    @Option(help: "Override the scenario's expectation: pass or fail (e.g. a scenario that catches real dqlite's stale reads, run against our node).")
    var expect: String?

    @Flag(help: "dqlite-node target: serve reads as C dqlite does, without confirming leadership (overrides cluster.stale_reads).")
    var staleReads = false

    mutating func run() async throws {
        var s = Scenario.builtInDefault
        var digest = "builtin"
        var plan: [PlannedFault]?
        var chosenSeed = seed
        var differences: [String] = []
        let exe = node ?? (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/dqlite-node"
        if let replay {
            do {
                let setup = try ReplaySetup.prepare(try RunRecord.load(replay), scenarioFile: scenario, load: { try ScenarioLoader.load(path: $0) },
                                                    nodeExecutable: exe, seed: seed)
                s = setup.scenario
                plan = setup.timeline
                chosenSeed = setup.seed
                digest = setup.scenarioDigest
                differences = setup.differences
            } catch {
                FileHandle.standardError.write(Data("dqlite-chaos: cannot replay \(replay): \(error)\n".utf8))
                throw ExitCode(64)
            }
        } else if let path = scenario {
            s = try load(path)
            digest = FileDigest.fnv64(path: path)
        }
        var flags: [String] = []
        if let duration {
            s.durationS = duration
            flags += ["--duration", String(duration)]
        }
        if let target {
            guard let kind = TargetKind(rawValue: target) else {
                FileHandle.standardError.write(Data("dqlite-chaos: --target must be one of \(TargetKind.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
                throw ExitCode(64)
            }
            s.cluster.target = kind
            flags += ["--target", target]
        }
        if let expect {
            guard let e = Scenario.Expectation(rawValue: expect) else {
                FileHandle.standardError.write(Data("dqlite-chaos: --expect must be pass or fail\n".utf8))
                throw ExitCode(64)
            }
            s.expect = e
            if e == .pass { s.expectAnomalies = [] }
            flags += ["--expect", expect]
        }
        if staleReads {
            s.cluster.staleReads = true
            flags.append("--stale-reads")
        }
        if let command {
            s.cluster.command = command
            flags += ["--command", "'\(command)'"]
        }
        if replay != nil, !flags.isEmpty { differences.append("overridden: \(flags.joined(separator: " "))") }
        let seed = chosenSeed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        if self.seed == nil && replay == nil { print("seed \(seed) (chosen for this run)") }
        if s.cluster.target == .dqliteNode, !FileManager.default.isExecutableFile(atPath: exe) {
            FileHandle.standardError.write(Data("dqlite-chaos: no dqlite-node at \(exe) (build it, or pass --node)\n".utf8))
            throw ExitCode(2)
        }
        let outDir = out ?? "runs/\(s.name)-\(seed)"
        var options = RunOptions(scenario: s, scenarioPath: scenario, scenarioDigest: digest, seed: seed, outputDirectory: outDir,
                                 nodeExecutable: exe, replay: plan, checkHistory: HistoryCheck.check(_:),
                                 say: { print($0) })
        options.toolsDirectory = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        options.replayOf = replay
        options.replayDifferences = differences
        options.reproduceFlags = flags
        let (record, code) = await ChaosRunner.run(options)
        if let record {
            print("verdict: \(record.verdict) (expected \(record.expect)); artifacts in \(outDir)")
            print("reproduce: \(record.reproduce)")
        }
        if code != 0 { throw ExitCode(code) }
    }

    private func load(_ path: String) throws -> Scenario {
        do {
            return try ScenarioLoader.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("dqlite-chaos: \(error)\n".utf8))
            throw ExitCode(64)
        }
    }
}
