import ArgumentParser
import Chaos
import Foundation

/// `dqlite-chaos shrink RUN_DIR`: the smallest fault timeline that still fails the same way.
struct ShrinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shrink",
        abstract: "Minimise a failing run: drop faults, shorten them, shorten the run, keeping what still fails the same way.",
        discussion: """
        Reads RUN_DIR/run.json (a run whose checks failed), then re-runs replays of it with the same seed, each
        on a fresh cluster: delta debugging over the faults as applied (each on the node it hit), then each
        fault halved, then the run halved. A candidate is kept only when it fails with the same anomaly class
        (or, without anomalies, the same failed check). Each step is printed; the candidates' runs go to
        RUN_DIR/shrink/step-N, the smallest failing one is copied to RUN_DIR/shrink/smallest, and the last line
        is the command that reproduces it. Exit status: 0 shrunk (or nothing smaller failed), 64 the run did
        not fail or run.json is unusable, 2 harness error.
        """)

    @Argument(help: "The directory of a failing run (with its run.json).")
    var runDirectory: String

    @Option(help: "Tries per candidate: a candidate still fails when any try does (for failures that need luck).")
    var tries: Int = 1

    @Option(help: "At most this many candidate runs.")
    var maxRuns: Int = 40

    @Option(help: "The dqlite-node binary (default: next to this one).")
    var node: String?

    func validate() throws {
        guard tries >= 1, maxRuns >= 1 else { throw ValidationError("--tries and --max-runs must be at least 1") }
    }

    func run() async throws {
        let runJSON = runDirectory + "/run.json"
        let original: RunRecord
        do { original = try RunRecord.load(runJSON) } catch {
            FileHandle.standardError.write(Data("dqlite-chaos: cannot read \(runJSON): \(error)\n".utf8))
            throw ExitCode(64)
        }
        guard let scenario = original.scenarioSpec else {
            FileHandle.standardError.write(Data("dqlite-chaos: \(runJSON) has no scenario in it (an older build): replay it with this build first\n".utf8))
            throw ExitCode(64)
        }
        guard FailureClass(original).failed else {
            FileHandle.standardError.write(Data("dqlite-chaos: \(runJSON) did not fail a check: nothing to shrink\n".utf8))
            throw ExitCode(64)
        }
        let tools = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        let exe = node ?? tools + "/dqlite-node"
        let base = runDirectory + "/shrink"
        try? FileManager.default.removeItem(atPath: base)
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var shrinker = Shrinker(original: original, run: { candidate, step in
            var s = scenario
            s.durationS = candidate.durationS
            let dir = "\(base)/step-\(step)"
            var o = RunOptions(scenario: s, scenarioPath: original.scenarioPath, scenarioDigest: original.scenarioDigest, seed: original.seed,
                               outputDirectory: dir, nodeExecutable: exe, replay: candidate.timeline,
                               checkHistory: HistoryCheck.check(_:), say: { _ in })
            o.toolsDirectory = tools
            o.replayOf = runJSON
            o.replayDifferences = ["shrink step \(step): \(candidate.timeline.count) of \(original.appliedFaults.count) faults, \(candidate.durationS) s"]
            return (await ChaosRunner.run(o).record, dir)
        }, say: { print($0) })
        shrinker.tries = tries
        shrinker.maxRuns = maxRuns
        let result = await shrinker.shrink()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(ShrinkSummary(original: runJSON, failure: "\(FailureClass(original))", steps: result.steps, smallest: result.best,
                                         smallestRun: result.bestDirectory.map { _ in base + "/smallest/run.json" }))
            .write(to: URL(fileURLWithPath: base + "/summary.json"))
        guard let best = result.bestDirectory else {
            print("nothing smaller failed the same way in \(result.steps.count) runs: the original stands (\(original.appliedFaults.count) faults)")
            print("reproduce: dqlite-chaos run --replay \(runJSON)")
            return
        }
        try FileManager.default.copyItem(atPath: best, toPath: base + "/smallest")
        print("smallest: \(result.best.timeline.count) faults (from \(original.appliedFaults.count)), \(result.best.durationS) s, in \(result.steps.count) runs: \(base)/smallest/run.json")
        for f in result.best.timeline {
            print("  at \(f.atS) s: \(f.type.rawValue) n\(f.node.map(String.init) ?? "?") for \(f.forS) s" + (f.shape.map { " (\($0.rawValue))" } ?? ""))
        }
        print("reproduce: dqlite-chaos run --replay \(base)/smallest/run.json")
    }
}

/// RUN_DIR/shrink/summary.json.
struct ShrinkSummary: Encodable {
    var original: String
    var failure: String
    var steps: [ShrinkStep]
    var smallest: ShrinkCandidate
    var smallestRun: String?

    enum CodingKeys: String, CodingKey { case original, failure, steps, smallest, smallestRun = "smallest_run" }
}
