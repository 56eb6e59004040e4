import ArgumentParser
import Chaos
import Foundation
import LocalCluster

/// `dqlite-chaos run [SCENARIO] [--seed N] [--replay run.json] [--out DIR]`: the project's main job.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a chaos scenario against a local cluster of dqlite-node processes and check what happened.",
        discussion: """
        Starts the scenario's cluster (each node a process with its own temp dir and log, in its own network
        namespace when run as root, else on loopback), runs a list-append workload through the Swift client
        while faults (kill, stop, pause, partition, delay, loss) hit the nodes, heals,
        checks the recorded history and every node's data, and ends with the verdict and the command that
        reproduces the run. Without a scenario, a built-in default runs (3 nodes, kills and pauses, 30 s).
        Exit status: 0 the run met its expectation, 1 a check failed (or an expect: fail scenario passed),
        2 harness error, 64 bad usage or a malformed scenario.
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

    @Option(help: "Override the scenario's duration, in seconds.")
    var duration: Double?

    mutating func run() async throws {
        var s = Scenario.builtInDefault
        var digest = "builtin"
        if let path = scenario {
            do {
                s = try ScenarioLoader.load(path: path)
            } catch {
                FileHandle.standardError.write(Data("dqlite-chaos: \(error)\n".utf8))
                throw ExitCode(64)
            }
            digest = Digest.fnv64(path: path)
        }
        if let duration { s.durationS = duration }
        var plan: [PlannedFault]?
        var chosenSeed = seed
        if let replay {
            do {
                let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: replay)))
                plan = record.plannedFaults
                chosenSeed = chosenSeed ?? record.seed
            } catch {
                FileHandle.standardError.write(Data("dqlite-chaos: cannot replay \(replay): \(error)\n".utf8))
                throw ExitCode(64)
            }
        }
        let seed = chosenSeed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        if self.seed == nil && replay == nil { print("seed \(seed) (chosen for this run)") }
        let exe = node ?? (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/dqlite-node"
        guard FileManager.default.isExecutableFile(atPath: exe) else {
            FileHandle.standardError.write(Data("dqlite-chaos: no dqlite-node at \(exe) (build it, or pass --node)\n".utf8))
            throw ExitCode(2)
        }
        let outDir = out ?? "runs/\(s.name)-\(seed)"
        let options = RunOptions(scenario: s, scenarioPath: scenario, scenarioDigest: digest, seed: seed, outputDirectory: outDir,
                                 nodeExecutable: exe, replay: plan, checkHistory: HistoryCheck.check(_:),
                                 say: { print($0) })
        let (record, code) = await ChaosRunner.run(options)
        if let record {
            print("verdict: \(record.verdict) (expected \(record.expect)); artifacts in \(outDir)")
            print("reproduce: \(record.reproduce)")
        }
        if code != 0 { throw ExitCode(code) }
    }
}

enum Digest {
    /// FNV-1a of the scenario file, recorded in run.json so a replay can tell the file changed.
    static func fnv64(path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "unreadable" }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return String(h, radix: 16)
    }
}
