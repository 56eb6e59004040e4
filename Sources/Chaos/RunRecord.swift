import Foundation

public struct CheckOutcome: Codable, Sendable {
    public var name: String
    public var passed: Bool
    public var detail: String
    /// The target could not feed this check (e.g. no DUMP): neither passed nor failed, and not counted.
    public var skipped: Bool?

    public init(name: String, passed: Bool, detail: String, skipped: Bool? = nil) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.skipped = skipped
    }
}

/// Everything run.json records: enough to understand the run and to replay it exactly, without the scenario
/// file (the scenario itself is in it) and with what differs from the recorded run reported.
public struct RunRecord: Codable, Sendable {
    public var scenario: String
    public var scenarioPath: String?
    public var scenarioDigest: String
    public var seed: UInt64
    public var commit: String
    public var expect: String
    public var anomalies: [String]
    public var plannedFaults: [PlannedFault]
    public var appliedFaults: [AppliedFault]
    public var checks: [CheckOutcome]
    public var ok: Int, fail: Int, info: Int
    public var crashes: [Int]
    public var leaderChanged: Bool
    /// netns or loopback, as resolved for this run.
    /// (Optional: absent from the run.json of older builds, which --replay still reads.)
    public var isolation: String?
    /// Times a node stopped on a disk fault (fail-stop), and snapshots nodes installed or loaded at start
    /// (from their logs): which faults actually bit.
    public var failStops: Int?
    public var snapshotRestores: Int?
    public var verdict: String
    public var reproduce: String
    /// The scenario as run (overrides such as --duration and --target applied): a replay needs nothing else.
    public var scenarioSpec: Scenario?
    /// The program under test and a digest of its file (a replay with another binary says so).
    public var target: String?
    public var program: String?
    public var programDigest: String?
    /// Faults of the plan that found no node to take them, with why.
    public var skippedFaults: [String]?
    /// Checks this target cannot feed, said plainly.
    public var targetLimits: [String]?
    /// When this run replayed another: which, and what differed from it.
    public var replayOf: String?
    public var replayDifferences: [String]?

    /// Whether a check that counts failed (for an `expect: fail` scenario that is what it wants).
    public var checksFailed: Bool { checks.contains { !$0.passed && $0.skipped != true } }

    /// The faults as applied, as a timeline that names each fault's node: what `--replay` applies.
    public var replayTimeline: [PlannedFault] { appliedFaults.map(\.replayable) }

    enum CodingKeys: String, CodingKey {
        case scenario, scenarioPath = "scenario_path", scenarioDigest = "scenario_digest", seed, commit, expect, anomalies,
             plannedFaults = "planned_faults", appliedFaults = "applied_faults", checks, ok, fail, info, crashes,
             leaderChanged = "leader_changed", isolation, failStops = "fail_stops", snapshotRestores = "snapshot_restores", verdict, reproduce,
             scenarioSpec = "scenario_spec", target, program, programDigest = "program_digest", skippedFaults = "skipped_faults",
             targetLimits = "target_limits", replayOf = "replay_of", replayDifferences = "replay_differences"
    }

    public static func load(_ path: String) throws -> RunRecord {
        try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

/// FNV-1a of a file (scenario files and node binaries), recorded in run.json so a replay can tell that the
/// file changed. Files over 4 MiB are sampled (their size and 64 KiB of every MiB): a rebuilt binary differs in
/// many places, and hashing a 100 MB debug build byte by byte would cost every run a second or more.
public enum FileDigest {
    public static func fnv64(path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "unreadable" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ block: Data) {
            block.withUnsafeBytes { raw in
                for b in raw { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            }
        }
        let sampled = size > 4 << 20
        var offset: UInt64 = 0
        while offset < size {
            try? handle.seek(toOffset: offset)
            guard let block = try? handle.read(upToCount: sampled ? 64 << 10 : 1 << 20), !block.isEmpty else { break }
            mix(block)
            offset += sampled ? 1 << 20 : UInt64(block.count)
        }
        return String(h, radix: 16) + (sampled ? "-\(size)" : "")
    }
}
