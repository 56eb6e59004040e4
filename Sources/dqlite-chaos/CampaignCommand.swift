import ArgumentParser
import Chaos
import Foundation

/// `dqlite-chaos campaign [SCENARIOS | --tier T] --seeds 1-100 ...` and `dqlite-chaos campaign merge DIRS...`.
/// Flags only: the plan, the runs and the summary are the `Chaos` library's.
struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Run many seeded runs of scenarios and summarise them; merge the results of shards.",
        usage: """
        dqlite-chaos campaign [SCENARIO.yaml ...] [--tier T] --seeds 1-100 [--target T] [--command TEMPLATE] [--expect pass|fail] [--stale-reads] [--shard K/N] [--jobs J] [--out DIR]
        dqlite-chaos campaign merge DIR ... [--out DIR]
        """,
        subcommands: [CampaignRunCommand.self, CampaignMergeCommand.self],
        defaultSubcommand: CampaignRunCommand.self
    )
}

struct CampaignRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run every scenario with every seed (or this shard's share) and print one summary table.",
        discussion: """
        Each run is `dqlite-chaos run SCENARIO --seed S --out OUT/runs/<scenario>-<seed>`, its output in \
        OUT/runs/<scenario>-<seed>.log. Runs are numbered scenario by scenario (sorted by path), seed by seed; \
        --shard K/N runs those whose number % N == K-1, so N machines share a campaign and \
        `dqlite-chaos campaign merge` joins their out dirs. Writes OUT/results.jsonl (a line per finished run), \
        OUT/summary.json and OUT/summary.html.
        Exit status: 0 every run met its expectation, 1 some did not, 2 some gave no verdict (harness error), \
        64 bad usage or a malformed scenario.
        """)

    @Argument(help: "Scenario files (YAML); or use --tier.")
    var scenarios: [String] = []

    @Option(help: "Every Scenarios/<tier>/*.yaml, relative to the current directory (smoke, nightly, soak).")
    var tier: String?

    @Option(help: "Seeds: a range 1-100, a list 1,5,9, or a mix 1-3,7.")
    var seeds: String

    @Option(help: "Passed to each run's --target.")
    var target: String?

    @Option(help: "Passed to each run's --command (the template of a target: command).")
    var command: String?

    @Option(help: "Passed to each run's --expect (pass or fail).")
    var expect: String?

    @Flag(help: "Passed to each run (dqlite-node target: C dqlite's reads).")
    var staleReads = false

    @Option(help: "Run only this share K/N of the runs (for a CI matrix of N jobs).")
    var shard: String?

    @Option(help: "Runs at once.")
    var jobs: Int = 1

    @Option(help: "Output directory (default runs/campaign, or runs/campaign-K-of-N with --shard).")
    var out: String?

    func validate() throws {
        if tier != nil && !scenarios.isEmpty { throw ValidationError("give scenario files or --tier, not both") }
        if tier == nil && scenarios.isEmpty { throw ValidationError("give scenario files or --tier T") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() async throws {
        let plan: CampaignPlan
        do {
            let paths = try tier.map { t throws(CampaignUsageError) in try CampaignScenario.paths(tier: t) } ?? scenarios
            plan = CampaignPlan(scenarios: try CampaignScenario.load(paths: paths), seeds: try SeedList.parse(seeds),
                                shard: try shard.map { s throws(CampaignUsageError) in try Shard.parse(s) } ?? .whole, target: target,
                                runFlags: (command.map { ["--command", $0] } ?? []) + (expect.map { ["--expect", $0] } ?? []) + (staleReads ? ["--stale-reads"] : []))
        } catch {
            FileHandle.standardError.write(Data("dqlite-chaos campaign: \(error)\n".utf8))
            throw ExitCode(64)
        }
        let exe = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let outDir = out ?? "runs/campaign" + (plan.shard == .whole ? "" : "-\(plan.shard.k)-of-\(plan.shard.n)")
        let summary: CampaignSummary
        do {
            summary = try await CampaignRunner.run(CampaignOptions(plan: plan, outputDirectory: outDir, chaosExecutable: exe, jobs: jobs,
                                                                   say: { line in
                                                                       print(line)
                                                                       fflush(nil)  // progress shows when piped (CI logs), not at exit (nil: stdout is a global Swift 6 refuses)
                                                                   }))
        } catch {
            FileHandle.standardError.write(Data("dqlite-chaos campaign: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print("\n" + CampaignTable.render(summary))
        print("summary: \(outDir)/summary.json, \(outDir)/summary.html")
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}

struct CampaignMergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the out dirs of campaign shards into one summary.",
        discussion: """
        Reads each DIR's results.jsonl (and campaign.json, to list runs no shard has), writes OUT/results.jsonl, \
        OUT/summary.json and OUT/summary.html, and prints the table the unsharded campaign would have printed.
        Exit status as for a campaign (2 also when runs are missing); 64 when a DIR is not a campaign's.
        """)

    @Argument(help: "Out dirs of campaigns (e.g. one per shard).")
    var dirs: [String]

    @Option(help: "Output directory.")
    var out: String = "runs/campaign-merged"

    func run() async throws {
        let summary: CampaignSummary
        do {
            summary = try CampaignMerge.merge(dirs: dirs, out: out, say: { print($0) })
        } catch let error as CampaignUsageError {
            FileHandle.standardError.write(Data("dqlite-chaos campaign merge: \(error)\n".utf8))
            throw ExitCode(64)
        } catch {
            FileHandle.standardError.write(Data("dqlite-chaos campaign merge: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(CampaignTable.render(summary))
        print("summary: \(out)/summary.json, \(out)/summary.html")
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}
