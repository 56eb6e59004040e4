import Foundation

/// A campaign's usage error (bad seeds or shard, no scenarios, a malformed scenario): exit 64, nothing ran.
public struct CampaignUsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A scenario as a campaign needs it: where it is (the run's argument), its name (the run's directory) and
/// what it expects (whether failed checks are catches or failures).
public struct CampaignScenario: Codable, Sendable, Hashable {
    public var name: String
    public var path: String
    public var expect: String

    public init(name: String, path: String, expect: String) {
        self.name = name
        self.path = path
        self.expect = expect
    }

    /// Loads each file (a malformed one is refused with its line, before anything runs), sorted by path.
    public static func load(paths: [String]) throws(CampaignUsageError) -> [CampaignScenario] {
        guard !paths.isEmpty else { throw CampaignUsageError("no scenarios: give scenario files or --tier T") }
        var scenarios: [CampaignScenario] = []
        for path in Set(paths).sorted() {
            do {
                let s = try ScenarioLoader.load(path: path)
                scenarios.append(CampaignScenario(name: s.name, path: path, expect: s.expect.rawValue))
            } catch {
                throw CampaignUsageError("\(error)")
            }
        }
        // Run directories and summary rows are keyed by name: two files of one name would mix their runs.
        var byName: [String: String] = [:]
        for s in scenarios {
            if let other = byName[s.name] {
                throw CampaignUsageError("\(other) and \(s.path) are both named '\(s.name)'; give each its own name:")
            }
            byName[s.name] = s.path
        }
        return scenarios
    }

    /// `Scenarios/<tier>/*.yaml`, relative to the current directory.
    public static func paths(tier: String) throws(CampaignUsageError) -> [String] {
        let dir = "Scenarios/\(tier)"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw CampaignUsageError("no folder \(dir) (--tier is looked up from the current directory)")
        }
        let paths = names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(dir)/\($0)" }
        guard !paths.isEmpty else { throw CampaignUsageError("\(dir) has no .yaml scenarios") }
        return paths
    }
}

/// `--seeds`: `1-100`, `1,5,9`, or a mix `1-3,7`. Sorted, each seed once, so "first failing seed" and the run
/// order do not depend on how the list was written.
public enum SeedList {
    public static let maxSeeds = 1_000_000

    public static func parse(_ text: String) throws(CampaignUsageError) -> [UInt64] {
        var seeds = Set<UInt64>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard !item.isEmpty, bounds.count <= 2, let lo = UInt64(bounds[0]), let hi = UInt64(bounds.last!), lo <= hi else {
                throw CampaignUsageError("bad --seeds '\(text)': '\(item)' is not a seed or a range lo-hi (e.g. 1-100, 1,5,9 or 1-3,7)")
            }
            guard hi - lo < UInt64(maxSeeds), seeds.count + Int(hi - lo) < maxSeeds else {
                throw CampaignUsageError("bad --seeds '\(text)': more than \(maxSeeds) seeds")
            }
            for s in lo...hi { seeds.insert(s) }
        }
        return seeds.sorted()
    }

    /// The inverse, for printing and for pasting back into `--seeds`: `[1, 2, 3, 7]` → `1-3,7`.
    public static func format(_ seeds: [UInt64]) -> String {
        var parts: [String] = []
        var i = 0
        let s = Array(Set(seeds)).sorted()
        while i < s.count {
            var j = i
            while j + 1 < s.count && s[j + 1] == s[j] + 1 { j += 1 }
            parts.append(j > i + 1 ? "\(s[i])-\(s[j])" : j == i + 1 ? "\(s[i]),\(s[j])" : "\(s[i])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// `--shard K/N`: this machine runs the runs whose index % N == K - 1.
public struct Shard: Codable, Sendable, Equatable, CustomStringConvertible {
    public var k: Int
    public var n: Int

    public static let whole = Shard(k: 1, n: 1)

    public init(k: Int, n: Int) {
        self.k = k
        self.n = n
    }

    public static func parse(_ text: String) throws(CampaignUsageError) -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw CampaignUsageError("bad --shard '\(text)': expected K/N, e.g. 1/4")
        }
        guard n >= 1, k >= 1, k <= n else {
            throw CampaignUsageError("bad --shard '\(text)': K must be 1...N and N at least 1")
        }
        return Shard(k: k, n: n)
    }

    public func keeps(_ index: Int) -> Bool { index % n == k - 1 }
    public var description: String { "\(k)/\(n)" }
}

/// One run of a campaign: index in the whole (unsharded) list, scenario and seed.
public struct CampaignRun: Sendable, Hashable {
    public var index: Int
    public var scenario: CampaignScenario
    public var seed: UInt64

    /// `<scenario>-<seed>`: the run's directory under `runs/` and its log's name.
    public var key: String { "\(scenario.name)-\(seed)" }
}

/// What a campaign runs, written to `campaign.json` so `merge` can tell which runs of the whole are missing.
public struct CampaignPlan: Codable, Sendable, Equatable {
    public var scenarios: [CampaignScenario]
    public var seeds: [UInt64]
    public var shard: Shard
    public var target: String?
    /// More `dqlite-chaos run` flags for every run (`--command T`, `--expect pass`, `--stale-reads`).
    public var runFlags: [String]?

    public init(scenarios: [CampaignScenario], seeds: [UInt64], shard: Shard = .whole, target: String? = nil, runFlags: [String] = []) {
        self.scenarios = scenarios.sorted { $0.path < $1.path }
        self.seeds = Array(Set(seeds)).sorted()
        self.shard = shard
        self.target = target
        self.runFlags = runFlags.isEmpty ? nil : runFlags
    }

    /// Every run of the whole campaign, scenario-major: run i is the same on every machine.
    public var allRuns: [CampaignRun] {
        var runs: [CampaignRun] = []
        runs.reserveCapacity(scenarios.count * seeds.count)
        for s in scenarios {
            for seed in seeds { runs.append(CampaignRun(index: runs.count, scenario: s, seed: seed)) }
        }
        return runs
    }

    /// The runs this shard runs.
    public var runs: [CampaignRun] { allRuns.filter { shard.keeps($0.index) } }
}
