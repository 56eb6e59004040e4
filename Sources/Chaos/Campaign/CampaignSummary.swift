import Foundation

/// One scenario's line of the summary. Only counts and seed lists: it must come out the same whether the
/// rows came from one campaign or from shards merged in any order, so nothing here depends on where or
/// when a run ran (wall times are in `CampaignTiming`).
public struct ScenarioSummary: Codable, Sendable, Equatable {
    public var scenario: String
    public var scenarioPath: String
    public var expect: String
    public var runs = 0
    /// Runs that met their expectation (for `expect: fail`: a check failed, as it should).
    public var met = 0
    /// Runs with a verdict that did not meet their expectation.
    public var notMet = 0
    /// Runs without a verdict (harness error, refused scenario).
    public var harnessErrors = 0
    /// Runs in which any check failed.
    public var checksFailed = 0
    /// Runs per anomaly class the history checker reported.
    public var anomalies: [String: Int] = [:]
    /// `expect: fail` only: the seeds whose checks failed, i.e. the runs that caught the bug.
    public var caughtSeeds: [UInt64]?
    public var notMetSeeds: [UInt64] = []
    public var harnessErrorSeeds: [UInt64] = []
    /// The first seed (in seed order) whose run did not meet its expectation or gave no verdict.
    public var firstFailingSeed: UInt64?
    public var firstFailingReproduce: String?

    enum CodingKeys: String, CodingKey {
        case scenario, scenarioPath = "scenario_path", expect, runs, met, notMet = "not_met", harnessErrors = "harness_errors",
             checksFailed = "checks_failed", anomalies, caughtSeeds = "caught_seeds", notMetSeeds = "not_met_seeds",
             harnessErrorSeeds = "harness_error_seeds", firstFailingSeed = "first_failing_seed", firstFailingReproduce = "first_failing_reproduce"
    }
}

public struct CampaignTotals: Codable, Sendable, Equatable {
    public var runs = 0, met = 0, notMet = 0, harnessErrors = 0, missing = 0

    enum CodingKeys: String, CodingKey { case runs, met, notMet = "not_met", harnessErrors = "harness_errors", missing }
}

/// A run by what identifies it across machines: scenario name and seed (`missing_runs` lists these).
public struct CampaignRunID: Codable, Sendable, Equatable, Hashable {
    public var scenario: String
    public var seed: UInt64

    public init(scenario: String, seed: UInt64) {
        self.scenario = scenario
        self.seed = seed
    }
}

/// Wall times: useful to a person, different on every machine, so kept apart from what `merge` must reproduce.
public struct CampaignTiming: Codable, Sendable, Equatable {
    public struct PerScenario: Codable, Sendable, Equatable {
        public var scenario: String
        public var meanS: Double
        public var maxS: Double
        enum CodingKeys: String, CodingKey { case scenario, meanS = "mean_s", maxS = "max_s" }
    }
    /// The campaign's own elapsed time (absent for a merge: its shards may have run at once or a day apart).
    public var elapsedS: Double?
    /// The runs' wall times added up.
    public var runsS: Double
    public var scenarios: [PerScenario]

    enum CodingKeys: String, CodingKey { case elapsedS = "elapsed_s", runsS = "runs_s", scenarios }
}

/// summary.json: `scenarios`, `totals` and `missing_runs` are the deterministic part (the same for one
/// campaign and for its shards merged); `timing` and `sources` say how this copy came about.
public struct CampaignSummary: Codable, Sendable, Equatable {
    public var scenarios: [ScenarioSummary]
    public var totals: CampaignTotals
    /// Runs of the whole campaign that no results file had (a shard not merged, or a campaign that died).
    public var missingRuns: [CampaignRunID]
    public var timing: CampaignTiming
    /// What the results came from: this campaign's out dir and shard, or the dirs merged.
    public var sources: [String]

    enum CodingKeys: String, CodingKey { case scenarios, totals, missingRuns = "missing_runs", timing, sources }

    /// 0 every run met its expectation, 1 some did not, 2 some gave no verdict or are missing.
    public var exitCode: Int32 {
        totals.harnessErrors > 0 || totals.missing > 0 ? 2 : totals.notMet > 0 ? 1 : 0
    }

    /// Folds rows into the summary. `expected`, when known, are the runs that should be there (missing ones
    /// are listed). Rows are put in (scenario, seed) order first, so their order never matters; a run that
    /// appears twice counts once.
    public static func make(results: [CampaignResult], expected: [CampaignRunID]? = nil, elapsedS: Double? = nil,
                            sources: [String] = []) -> CampaignSummary {
        let rows = unique(results)
        var byScenario: [String: ScenarioSummary] = [:]
        var times: [String: [Double]] = [:]
        for r in rows {
            let expectFail = r.expect == Scenario.Expectation.fail.rawValue
            var s = byScenario[r.scenario]
                ?? ScenarioSummary(scenario: r.scenario, scenarioPath: r.scenarioPath, expect: r.expect, caughtSeeds: expectFail ? [] : nil)
            s.scenarioPath = min(s.scenarioPath, r.scenarioPath)
            s.runs += 1
            if r.isHarnessError {
                s.harnessErrors += 1
                s.harnessErrorSeeds.append(r.seed)
            } else if r.met {
                s.met += 1
            } else {
                s.notMet += 1
                s.notMetSeeds.append(r.seed)
            }
            if !r.failedChecks.isEmpty {
                s.checksFailed += 1
                if expectFail { s.caughtSeeds?.append(r.seed) }
            }
            for a in Set(r.anomalies) { s.anomalies[a, default: 0] += 1 }
            // Rows are in seed order, so the first one kept is the first failing seed.
            if !r.met && s.firstFailingSeed == nil {
                s.firstFailingSeed = r.seed
                s.firstFailingReproduce = r.reproduce
            }
            byScenario[r.scenario] = s
            times[r.scenario, default: []].append(r.wallSeconds)
        }
        let scenarios = byScenario.values.sorted { $0.scenario < $1.scenario }
        var totals = CampaignTotals()
        for s in scenarios {
            totals.runs += s.runs
            totals.met += s.met
            totals.notMet += s.notMet
            totals.harnessErrors += s.harnessErrors
        }
        let have = Set(rows.map { CampaignRunID(scenario: $0.scenario, seed: $0.seed) })
        let missing = Set(expected ?? []).subtracting(have).sorted { ($0.scenario, $0.seed) < ($1.scenario, $1.seed) }
        totals.missing = missing.count
        func tenths(_ x: Double) -> Double { (x * 10).rounded() / 10 }
        let timing = CampaignTiming(
            elapsedS: elapsedS.map(tenths), runsS: tenths(rows.reduce(0) { $0 + $1.wallSeconds }),
            scenarios: times.keys.sorted().map { name in
                let t = times[name]!
                return .init(scenario: name, meanS: tenths(t.reduce(0, +) / Double(t.count)), maxS: t.max() ?? 0)
            })
        return CampaignSummary(scenarios: scenarios, totals: totals, missingRuns: missing, timing: timing, sources: sources)
    }

    /// Rows in (scenario, seed) order, each run once (the first given wins, so `merge A B` prefers A).
    static func unique(_ results: [CampaignResult]) -> [CampaignResult] {
        var seen = Set<CampaignRunID>()
        var rows: [CampaignResult] = []
        for r in results where seen.insert(r.id).inserted { rows.append(r) }
        return rows.sorted { ($0.scenario, $0.seed) < ($1.scenario, $1.seed) }
    }

    /// Pretty, sorted keys: two summaries of the same runs are the same bytes, apart from `timing` and `sources`.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}

extension CampaignRun {
    var id: CampaignRunID { CampaignRunID(scenario: scenario.name, seed: seed) }
}
