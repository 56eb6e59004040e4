import Foundation

/// One finished run of a campaign: a line of `results.jsonl`, written the moment the run ends so a campaign
/// that dies keeps what it finished, and what `merge` reads back from each shard.
public struct CampaignResult: Codable, Sendable, Equatable {
    public var scenario: String
    public var scenarioPath: String
    public var expect: String
    public var seed: UInt64
    /// The run's exit status: 0 met its expectation, 1 did not, 2 harness error, 64 bad scenario.
    public var exitCode: Int32
    /// Met its expectation (for `expect: fail`: a check failed, as it should).
    public var met: Bool
    /// Names of the checks that failed (for `expect: fail` scenarios, the ones that caught the bug).
    public var failedChecks: [String]
    /// Anomaly classes the history checker reported (e.g. G-single-realtime).
    public var anomalies: [String]
    public var reproduce: String
    public var wallSeconds: Double
    /// The end of the run's log when it ended without a verdict (harness error, refused scenario, no run.json).
    public var error: String?

    public init(scenario: String, scenarioPath: String, expect: String, seed: UInt64, exitCode: Int32, met: Bool,
                failedChecks: [String] = [], anomalies: [String] = [], reproduce: String, wallSeconds: Double, error: String? = nil) {
        self.scenario = scenario
        self.scenarioPath = scenarioPath
        self.expect = expect
        self.seed = seed
        self.exitCode = exitCode
        self.met = met
        self.failedChecks = failedChecks
        self.anomalies = anomalies
        self.reproduce = reproduce
        self.wallSeconds = wallSeconds
        self.error = error
    }

    /// No verdict: the harness failed or refused, so the run says nothing about the system under test.
    public var isHarnessError: Bool { error != nil }

    public var id: CampaignRunID { CampaignRunID(scenario: scenario, seed: seed) }
    /// `<scenario>-<seed>`, as `CampaignRun.key`: the run's directory and log under `runs/`.
    public var key: String { "\(scenario)-\(seed)" }

    enum CodingKeys: String, CodingKey {
        case scenario, scenarioPath = "scenario_path", expect, seed, exitCode = "exit_code", met, failedChecks = "failed_checks",
             anomalies, reproduce, wallSeconds = "wall_s", error
    }

    /// One line of results.jsonl (sorted keys: shards written on different machines compare byte for byte).
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a results.jsonl; a torn last line (the campaign died while writing it) is skipped, not fatal.
    public static func read(jsonl path: String) throws -> (results: [CampaignResult], skipped: Int) {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var results: [CampaignResult] = []
        var skipped = 0
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            if let r = try? JSONDecoder().decode(CampaignResult.self, from: Data(line.utf8)) {
                results.append(r)
            } else {
                skipped += 1
            }
        }
        return (results, skipped)
    }
}

/// The few fields of a run's run.json a campaign reads. Its own type, decoded leniently, so fields that
/// `RunRecord` gains (or an older build lacks) never make a campaign lose a run.
struct CampaignRunRecord: Decodable {
    struct Check: Decodable {
        var name: String
        var passed: Bool?
        /// A check the target could not feed (e.g. no DUMP): neither passed nor failed.
        var skipped: Bool?
        var failed: Bool { passed == false && skipped != true }
    }
    var verdict: String
    var anomalies: [String]
    var checks: [Check]
    var reproduce: String?

    enum CodingKeys: String, CodingKey { case verdict, anomalies, checks, reproduce }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        verdict = try c.decode(String.self, forKey: .verdict)
        anomalies = (try? c.decodeIfPresent([String].self, forKey: .anomalies)) ?? []
        checks = (try? c.decodeIfPresent([Check].self, forKey: .checks)) ?? []
        reproduce = try? c.decodeIfPresent(String.self, forKey: .reproduce)
    }

    static func read(_ path: String) -> CampaignRunRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(CampaignRunRecord.self, from: data)
    }
}

extension CampaignResult {
    /// The row of a finished run, from its exit status, its run.json and (when it gave no verdict) its log.
    static func make(run: CampaignRun, exitCode: Int32, runJSON: String, log: String, target: String?, wallSeconds: Double) -> CampaignResult {
        let fallback = "dqlite-chaos run \(run.scenario.path) --seed \(run.seed)" + (target.map { " --target \($0)" } ?? "")
        var row = CampaignResult(scenario: run.scenario.name, scenarioPath: run.scenario.path, expect: run.scenario.expect, seed: run.seed,
                                 exitCode: exitCode, met: false, reproduce: fallback, wallSeconds: wallSeconds)
        // 0 and 1 are verdicts only with the run.json that explains them; anything else is the harness's.
        guard exitCode == 0 || exitCode == 1, let record = CampaignRunRecord.read(runJSON) else {
            let why = exitCode == 0 || exitCode == 1 ? "exit \(exitCode) but no readable run.json" : exitDescription(exitCode)
            row.error = why + "\n" + tail(of: log, lines: 8)
            return row
        }
        row.met = exitCode == 0
        row.failedChecks = record.checks.filter(\.failed).map(\.name).sorted()
        row.anomalies = Array(Set(record.anomalies)).sorted()
        if let r = record.reproduce, !r.isEmpty {
            // A run.json of a build whose reproduce line does not carry the target yet: add it, or it would lie.
            row.reproduce = r + (target.map { r.contains("--target") ? "" : " --target \($0)" } ?? "")
        }
        return row
    }

    static func exitDescription(_ code: Int32) -> String {
        switch code {
        case 2: return "harness error (exit 2)"
        case 64: return "refused: bad usage or scenario (exit 64)"
        case 128...: return "killed by signal \(code - 128) (exit \(code))"
        default: return "exit \(code)"
        }
    }

    static func tail(of path: String, lines: Int) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log at \(path))" }
        let all = String(decoding: data.suffix(16_384), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        return all.suffix(lines).joined(separator: "\n")
    }
}
