import XCTest
import LocalCluster
@testable import Chaos

/// `dqlite-chaos campaign`: seeds and shards (pure), the summary from rows (pure), merge of result files, and
/// one real campaign (unsharded, then two shards merged) that must print the same summary.
final class CampaignTests: XCTestCase {
    // MARK: seeds and shards

    func testSeedListsTakeRangesListsAndMixes() throws {
        XCTAssertEqual(try SeedList.parse("1-5"), [1, 2, 3, 4, 5])
        XCTAssertEqual(try SeedList.parse("1,5,9"), [1, 5, 9])
        XCTAssertEqual(try SeedList.parse("7,1-3"), [1, 2, 3, 7], "sorted, whatever the order written")
        XCTAssertEqual(try SeedList.parse("3,1-3, 2"), [1, 2, 3], "each seed once")
        XCTAssertEqual(try SeedList.parse("42"), [42])
        XCTAssertEqual(try SeedList.parse("1-100").count, 100)
        for bad in ["", "x", "5-1", "1-", "-3", "1,,2", "1-2-3", "1.5", "0-10000000"] {
            XCTAssertThrowsError(try SeedList.parse(bad), "'\(bad)' must be refused")
        }
        XCTAssertEqual(SeedList.format([1, 2, 3, 7, 9, 10]), "1-3,7,9,10")
        XCTAssertEqual(try SeedList.parse(SeedList.format([4, 5, 6, 11, 20, 21, 22])), [4, 5, 6, 11, 20, 21, 22])
    }

    func testShardsParseAndRefuseOutOfRange() throws {
        XCTAssertEqual(try Shard.parse("1/2"), Shard(k: 1, n: 2))
        XCTAssertEqual(try Shard.parse("4/4"), Shard(k: 4, n: 4))
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", "-1/2", ""] {
            XCTAssertThrowsError(try Shard.parse(bad), "'\(bad)' must be refused")
        }
    }

    func testShardsPartitionTheRunsScenarioMajor() {
        let scenarios = [CampaignScenario(name: "b", path: "z/b.yaml", expect: "pass"), CampaignScenario(name: "a", path: "a/a.yaml", expect: "fail")]
        let whole = CampaignPlan(scenarios: scenarios, seeds: [3, 1, 2])
        XCTAssertEqual(whole.runs.map { "\($0.scenario.name)-\($0.seed)" }, ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"],
                       "scenarios sorted by path, then seeds in order")
        XCTAssertEqual(whole.runs.map(\.index), Array(0..<6))
        for n in 1...7 {
            let shards = (1...n).map { k in CampaignPlan(scenarios: scenarios, seeds: [1, 2, 3], shard: Shard(k: k, n: n)).runs }
            XCTAssertEqual(shards.flatMap { $0 }.sorted { $0.index < $1.index }, whole.runs, "shards of \(n) cover every run once")
            XCTAssertTrue(shards.allSatisfy { s in s.allSatisfy { $0.index % n == shards.firstIndex(of: s)! } })
        }
        XCTAssertEqual(CampaignPlan(scenarios: scenarios, seeds: [1, 2, 3], shard: Shard(k: 2, n: 2)).runs.map(\.key), ["a-2", "b-1", "b-3"])
    }

    // MARK: summary from rows

    private func row(_ scenario: String, _ seed: UInt64, expect: String = "pass", met: Bool = true, checks: [String] = [],
                     anomalies: [String] = [], error: String? = nil, wall: Double = 1) -> CampaignResult {
        CampaignResult(scenario: scenario, scenarioPath: "Scenarios/\(scenario).yaml", expect: expect, seed: seed,
                       exitCode: error != nil ? 2 : met ? 0 : 1, met: met && error == nil, failedChecks: checks, anomalies: anomalies,
                       reproduce: "dqlite-chaos run Scenarios/\(scenario).yaml --seed \(seed)", wallSeconds: wall, error: error)
    }

    private var sampleRows: [CampaignResult] {
        [
            row("kill", 1), row("kill", 2, met: false, checks: ["history"], anomalies: ["G-single-realtime"]), row("kill", 3),
            row("kill", 4, met: false, checks: ["durability", "history"], anomalies: ["G-single-realtime", "G0"]),
            row("kill", 5, error: "harness error (exit 2)"),
            row("broken", 1, expect: "fail", checks: ["history"], anomalies: ["G-single-realtime"]),
            row("broken", 2, expect: "fail", met: false),
            row("broken", 3, expect: "fail", checks: ["history"], anomalies: ["G-single-realtime", "stale-read"]),
        ]
    }

    func testTheSummaryCountsRunsCatchesAnomaliesAndTheFirstFailingSeed() throws {
        let s = CampaignSummary.make(results: sampleRows.reversed(), expected: (1...5).map { CampaignRunID(scenario: "kill", seed: $0) }
            + (1...4).map { CampaignRunID(scenario: "broken", seed: $0) })
        XCTAssertEqual(s.scenarios.map(\.scenario), ["broken", "kill"])
        let broken = s.scenarios[0], kill = s.scenarios[1]
        XCTAssertEqual([broken.runs, broken.met, broken.notMet, broken.harnessErrors, broken.checksFailed], [3, 2, 1, 0, 2])
        XCTAssertEqual(broken.caughtSeeds, [1, 3], "an expect: fail scenario names the seeds that caught the bug")
        XCTAssertEqual(broken.firstFailingSeed, 2)
        XCTAssertEqual(broken.anomalies, ["G-single-realtime": 2, "stale-read": 1])
        XCTAssertEqual([kill.runs, kill.met, kill.notMet, kill.harnessErrors, kill.checksFailed], [5, 2, 2, 1, 2])
        XCTAssertNil(kill.caughtSeeds)
        XCTAssertEqual(kill.notMetSeeds, [2, 4])
        XCTAssertEqual(kill.harnessErrorSeeds, [5])
        XCTAssertEqual(kill.firstFailingSeed, 2)
        XCTAssertEqual(kill.firstFailingReproduce, "dqlite-chaos run Scenarios/kill.yaml --seed 2")
        XCTAssertEqual(kill.anomalies, ["G-single-realtime": 2, "G0": 1])
        XCTAssertEqual(s.missingRuns, [CampaignRunID(scenario: "broken", seed: 4)])
        XCTAssertEqual(s.totals, CampaignTotals(runs: 8, met: 4, notMet: 3, harnessErrors: 1, missing: 1))
        XCTAssertEqual(s.exitCode, 2)

        let table = CampaignTable.render(s)
        let fields = table.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(fields.first { $0.first == "broken" }, ["broken", "fail", "3", "2", "1", "0", "2", "2"], table)
        XCTAssertEqual(fields.first { $0.first == "kill" }, ["kill", "pass", "5", "2", "2", "1", "2", "2"], table)
        XCTAssertEqual(fields.first { $0.first == "total" }, ["total", "8", "4", "3", "1", "4"], table)
        XCTAssertTrue(table.contains("broken: 2 of 3 runs, seeds 1,3"), table)
        XCTAssertTrue(table.contains("kill: seeds 2,4,5 (no verdict: 5)"), table)
        XCTAssertTrue(table.contains("first: dqlite-chaos run Scenarios/kill.yaml --seed 2"), table)
        XCTAssertTrue(table.contains("broken: seeds 4"), "missing runs are listed: \(table)")
    }

    func testExitStatusFollowsTheWorstRun() {
        XCTAssertEqual(CampaignSummary.make(results: [row("a", 1), row("a", 2)]).exitCode, 0)
        XCTAssertEqual(CampaignSummary.make(results: [row("a", 1), row("a", 2, met: false)]).exitCode, 1)
        XCTAssertEqual(CampaignSummary.make(results: [row("a", 1, met: false), row("a", 2, error: "x")]).exitCode, 2)
        XCTAssertEqual(CampaignSummary.make(results: []).exitCode, 0, "an empty shard ran nothing and failed nothing")
    }

    func testShardsSummariseLikeTheWholeInAnyOrder() throws {
        let rows = sampleRows
        let whole = CampaignSummary.make(results: rows, elapsedS: 10, sources: ["a"])
        let odd = rows.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let even = rows.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let merged = CampaignSummary.make(results: odd + even + odd, sources: ["b", "c"])
        XCTAssertEqual(merged.scenarios, whole.scenarios)
        XCTAssertEqual(merged.totals, whole.totals, "duplicated rows count once")
        XCTAssertEqual(CampaignTable.render(merged), CampaignTable.render(whole))
    }

    func testMergeReadsShardDirsAndListsMissingRuns() throws {
        let root = NSTemporaryDirectory() + "campaign-merge-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let scenarios = [CampaignScenario(name: "broken", path: "Scenarios/broken.yaml", expect: "fail"),
                         CampaignScenario(name: "kill", path: "Scenarios/kill.yaml", expect: "pass")]
        let byKey = Dictionary(uniqueKeysWithValues: sampleRows.map { ("\($0.scenario)-\($0.seed)", $0) })
        // Three shards of the eight runs; the third never uploaded.
        for k in 1...3 {
            let plan = CampaignPlan(scenarios: scenarios, seeds: [1, 2, 3, 4, 5], shard: Shard(k: k, n: 3))
            let dir = "\(root)/shard\(k)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try CampaignFiles.writePlan(plan, to: dir)
            let lines = plan.runs.compactMap { byKey[$0.key]?.jsonLine() }.joined(separator: "\n") + "\n{\"torn"
            try Data(lines.utf8).write(to: URL(fileURLWithPath: CampaignFiles.resultsPath(dir)))
        }
        let merged = try CampaignMerge.merge(dirs: ["\(root)/shard2", "\(root)/shard1"], out: "\(root)/merged", say: { _ in })
        let wholePlan = CampaignPlan(scenarios: scenarios, seeds: [1, 2, 3, 4, 5])
        let present = wholePlan.allRuns.filter { $0.index % 3 != 2 && byKey[$0.key] != nil }.map(\.id)
        XCTAssertEqual(Set(merged.missingRuns), Set(wholePlan.allRuns.map(\.id)).subtracting(present),
                       "the third shard's runs, and the runs no shard had")
        XCTAssertEqual(merged.exitCode, 2, "runs missing")

        let all = try CampaignMerge.merge(dirs: (1...3).map { "\(root)/shard\($0)" }, out: "\(root)/all", say: { _ in })
        let whole = CampaignSummary.make(results: sampleRows, expected: wholePlan.allRuns.map(\.id))
        XCTAssertEqual(all.scenarios, whole.scenarios)
        XCTAssertEqual(all.missingRuns, [CampaignRunID(scenario: "broken", seed: 4), CampaignRunID(scenario: "broken", seed: 5)],
                       "runs no shard has: these two were never in the rows")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/all/summary.html"))
        XCTAssertEqual(CampaignFiles.readPlan("\(root)/all")?.shard, .whole, "a merged dir is a whole campaign's, to merge again")
        XCTAssertEqual(try CampaignResult.read(jsonl: "\(root)/all/results.jsonl").results.count, sampleRows.count)

        XCTAssertThrowsError(try CampaignMerge.merge(dirs: ["\(root)/nothing"], out: "\(root)/x", say: { _ in })) { error in
            XCTAssertTrue(error is CampaignUsageError)
        }
    }

    // MARK: rows from run.json, HTML

    func testARowReadsOnlyTheFieldsItNeedsFromRunJSON() throws {
        let dir = NSTemporaryDirectory() + "campaign-row-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let json = #"{"verdict":"pass","anomalies":["G0","G0"],"checks":[{"name":"history","passed":false,"detail":"x"},"#
            + #"{"name":"crashes","passed":true,"detail":""},{"name":"durability","passed":false,"skipped":true,"detail":"no DUMP"}],"reproduce":"dqlite-chaos run s.yaml --seed 7","a_field_added_later":{"x":1}}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/run.json"))
        try Data("line 1\nline 2\n".utf8).write(to: URL(fileURLWithPath: dir + "/log"))
        let run = CampaignRun(index: 0, scenario: CampaignScenario(name: "s", path: "s.yaml", expect: "fail"), seed: 7)
        let r = CampaignResult.make(run: run, exitCode: 0, runJSON: dir + "/run.json", log: dir + "/log", target: nil, wallSeconds: 2)
        XCTAssertTrue(r.met)
        XCTAssertEqual(r.failedChecks, ["history"], "a skipped check is not a failed one")
        XCTAssertEqual(r.anomalies, ["G0"])
        XCTAssertNil(r.error)
        let withTarget = CampaignResult.make(run: run, exitCode: 0, runJSON: dir + "/run.json", log: dir + "/log", target: "demo", wallSeconds: 2)
        XCTAssertEqual(withTarget.reproduce, "dqlite-chaos run s.yaml --seed 7 --target demo")

        let crashed = CampaignResult.make(run: run, exitCode: 2, runJSON: dir + "/none.json", log: dir + "/log", target: nil, wallSeconds: 1)
        XCTAssertTrue(crashed.isHarnessError)
        XCTAssertFalse(crashed.met)
        XCTAssertTrue(crashed.error?.contains("line 2") == true, crashed.error ?? "")
        XCTAssertEqual(crashed.reproduce, "dqlite-chaos run s.yaml --seed 7")
        XCTAssertEqual(CampaignResult.read(jsonlText: crashed.jsonLine()), [crashed], "a row survives results.jsonl")
    }

    func testTheHTMLEscapesEverythingFromARun() {
        var evil = row("<script>alert(1)</script>", 1, met: false, checks: ["a\"b"], anomalies: ["<G0>"], error: "x & y")
        evil.reproduce = "run '<x>'"
        let html = CampaignHTML.render(CampaignSummary.make(results: [evil]), results: [evil],
                                       links: [CampaignRunID(scenario: evil.scenario, seed: 1): "runs/\"><script>/report.html"])
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("runs/&quot;&gt;&lt;script&gt;/report.html"))
        XCTAssertTrue(html.contains("x &amp; y"))
        XCTAssertFalse(html.contains("<script"), "no scripts at all")
    }

    func testProgressLineShowsRunsFailuresAndTimeLeft() {
        var p = CampaignProgress(total: 40, jobs: 2)
        for i in 0..<12 { p.record(row("a", UInt64(i), met: i >= 3, wall: 10)) }
        XCTAssertEqual(p.line(elapsedS: 80), "[12/40] failures 3, elapsed 1m20s, about 2m left")
        XCTAssertEqual(CampaignProgress.duration(7384), "2h03m")
        XCTAssertEqual(CampaignProgress.estimate(45), "45s")
    }
}

extension CampaignResult {
    static func read(jsonlText: String) -> [CampaignResult] {
        jsonlText.split(separator: "\n").compactMap { try? JSONDecoder().decode(CampaignResult.self, from: Data($0.utf8)) }
    }
}

/// The acceptance test of issue 16, section 3: a real `dqlite-chaos campaign` over 2 scenarios × 5 seeds,
/// unsharded, then as shards 1/2 and 2/2 merged, prints the same table and writes the same summary.
final class CampaignTestsWithProcesses: XCTestCase {
    private let exe = CommandRunner.productsDirectory + "/dqlite-chaos"

    /// Two small loopback scenarios: one that passes, and a copy of the smoke tier's broken node (it
    /// acknowledges before Raft commits, so the history check fails on every seed) cut to 3 s.
    private func writeScenarios(in dir: String) throws -> [String] {
        let pass = """
        name: campaign-pass
        expect: pass
        duration_s: 2
        cluster: {nodes: 1, isolation: loopback}
        workload: {rate_hz: 20}
        faults: {mode: none}
        final: {settle_s: 0.5}
        """
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scenarios/smoke/broken-ack-before-commit.yaml")
        var broken = try String(contentsOf: source, encoding: .utf8)
        broken = broken.replacingOccurrences(of: #"(?m)^duration_s: .*$"#, with: "duration_s: 3", options: .regularExpression)
        broken = broken.replacingOccurrences(of: "cluster: {", with: "cluster: {isolation: loopback, ")
        broken += "\nfinal: {settle_s: 0.5}\n"
        let paths = [dir + "/pass.yaml", dir + "/broken.yaml"]
        try Data(pass.utf8).write(to: URL(fileURLWithPath: paths[0]))
        try Data(broken.utf8).write(to: URL(fileURLWithPath: paths[1]))
        // If the smoke scenario's layout changed, say so here rather than through a slow or netns run.
        let loaded = try ScenarioLoader.load(path: paths[1])
        XCTAssertEqual(loaded.durationS, 3)
        XCTAssertEqual(loaded.cluster.isolation, .loopback)
        XCTAssertEqual(loaded.expect, .fail)
        return paths
    }

    private func summary(_ dir: String) throws -> CampaignSummary {
        try JSONDecoder().decode(CampaignSummary.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json")))
    }

    /// The table as printed: from its header to the line naming the summary files.
    private func table(_ stdout: String) -> String {
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("scenario ") }),
              let end = lines.firstIndex(where: { $0.hasPrefix("summary: ") }) else { return "(no table in)\n" + stdout }
        return lines[start..<end].joined(separator: "\n")
    }

    func testShardsMergedGiveTheSameSummaryAsOneCampaign() async throws {
        let root = NSTemporaryDirectory() + "campaign-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let scenarios = try writeScenarios(in: root)
        let common = ["campaign"] + scenarios + ["--seeds", "1-3", "--target", "dqlite-node"]

        let whole = try await CommandRunner.run(exe, common + ["--jobs", "2", "--out", root + "/whole"], timeout: .seconds(300))
        XCTAssertEqual(whole.status, 0, whole.stdout + whole.stderr)
        XCTAssertTrue(whole.stdout.contains("[6/6] failures 0"), whole.stdout)

        // The two shards at once, one run each at a time: two machines of a CI matrix.
        let exe = self.exe  // a local: `async let` must not capture the test case
        async let first = CommandRunner.run(exe, common + ["--shard", "1/2", "--out", root + "/s1"], timeout: .seconds(300))
        async let second = CommandRunner.run(exe, common + ["--shard", "2/2", "--out", root + "/s2"], timeout: .seconds(300))
        let shards = try await [first, second]
        for s in shards { XCTAssertEqual(s.status, 0, s.stdout + s.stderr) }
        XCTAssertTrue(shards[0].stdout.contains("[3/3]"), shards[0].stdout)

        let merge = try await CommandRunner.run(exe, ["campaign", "merge", root + "/s1", root + "/s2", "--out", root + "/merged"])
        XCTAssertEqual(merge.status, 0, merge.stdout + merge.stderr)

        // The shards run each seed again, and which anomaly classes a run of the broken scenario shows
        // depends on timing (a rerun of a seed showed G-single-process without G-single-realtime): the
        // classes are compared by presence, everything else exactly.
        func timingFree(_ s: [ScenarioSummary]) -> [ScenarioSummary] { s.map { var x = $0; x.anomalies = [:]; return x } }
        func timingFree(_ table: String) -> String {
            var inAnomalies = false
            return table.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                if line.hasPrefix("anomalies (") { inAnomalies = true; return false }
                if inAnomalies && line.isEmpty { inAnomalies = false }
                return !inAnomalies
            }.joined(separator: "\n")
        }
        let a = try summary(root + "/whole"), b = try summary(root + "/merged")
        XCTAssertEqual(timingFree(a.scenarios), timingFree(b.scenarios), "\n\(CampaignTable.render(a))\nvs merged\n\(CampaignTable.render(b))")
        XCTAssertEqual(a.scenarios.map { $0.anomalies.isEmpty }, b.scenarios.map { $0.anomalies.isEmpty })
        XCTAssertEqual(a.totals, b.totals)
        XCTAssertEqual(b.missingRuns, [])
        XCTAssertEqual(timingFree(table(whole.stdout)), timingFree(table(merge.stdout)))
        XCTAssertEqual(a.scenarios.map(\.scenario), ["broken-ack-before-commit", "campaign-pass"])
        XCTAssertEqual(a.scenarios.map(\.runs), [3, 3])
        XCTAssertEqual(a.scenarios[0].caughtSeeds, [1, 2, 3], "the expect: fail scenario names the seeds that caught the bug")
        XCTAssertTrue(table(merge.stdout).contains("broken-ack-before-commit: 3 of 3 runs, seeds 1-3"), merge.stdout)
        XCTAssertEqual(a.scenarios[1].met, 3)
        let rows = try CampaignResult.read(jsonl: root + "/merged/results.jsonl").results
        XCTAssertEqual(rows.count, 6)
        XCTAssertTrue(rows.allSatisfy { $0.reproduce.hasSuffix("--seed \($0.seed) --target dqlite-node") }, "\(rows.map(\.reproduce))")
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/merged/summary.html"))
        let html = try String(contentsOfFile: root + "/merged/summary.html", encoding: .utf8)
        XCTAssertTrue(html.contains("../s1/runs/broken-ack-before-commit-1/report.html"), "links lead to the shards' runs")
    }

    func testBadUsageExits64BeforeAnythingRuns() async throws {
        let root = NSTemporaryDirectory() + "campaign-usage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let scenario = root + "/s.yaml"
        try Data("name: s\nduration_s: 1\n".utf8).write(to: URL(fileURLWithPath: scenario))
        try Data("name: bad\nduration_s: soon\n".utf8).write(to: URL(fileURLWithPath: root + "/bad.yaml"))
        for args in [[scenario, "--seeds", "5-1"], [scenario, "--seeds", "1-2", "--shard", "3/2"], ["--seeds", "1"],
                     [root + "/bad.yaml", "--seeds", "1"], ["--tier", "no-such-tier", "--seeds", "1"], [scenario, "--seeds", "1", "--jobs", "0"]] {
            let r = try await CommandRunner.run(exe, ["campaign"] + args + ["--out", root + "/out"])
            XCTAssertEqual(r.status, 64, "\(args): \(r.stdout)\(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args) says why")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/out/runs"), "nothing ran")
        let merge = try await CommandRunner.run(exe, ["campaign", "merge", root, "--out", root + "/m"])
        XCTAssertEqual(merge.status, 64, merge.stderr)
    }
}
