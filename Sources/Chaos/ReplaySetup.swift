/// What `--replay run.json` runs: the recorded scenario, the faults as applied (each on the node it hit, at
/// its offset) and the seed, with every way the present differs from the recorded run said in words (a
/// changed scenario file, another node binary, another seed), never ignored.
public struct ReplaySetup: Sendable {
    public var scenario: Scenario
    public var timeline: [PlannedFault]
    public var seed: UInt64
    public var scenarioDigest: String
    public var differences: [String]

    /// `scenarioFile`: a scenario path given beside the run.json (its digest is compared; it is only used when
    /// the run.json predates recorded scenarios). `nodeExecutable`: the dqlite-node this replay would start.
    public static func prepare(_ record: RunRecord, scenarioFile: String?, load: (String) throws -> Scenario,
                               nodeExecutable: String, seed: UInt64?) throws -> ReplaySetup {
        var differences: [String] = []
        let scenario: Scenario
        if let spec = record.scenarioSpec {
            scenario = spec
        } else if let path = scenarioFile {
            scenario = try load(path)
        } else {
            throw ChaosError.refused("the run.json comes from an older build without the scenario in it: name the scenario file too")
        }
        if let path = scenarioFile {
            let now = FileDigest.fnv64(path: path)
            if now != record.scenarioDigest {
                differences.append("the scenario file \(path) changed since the recorded run (digest \(record.scenarioDigest) -> \(now))"
                                   + (record.scenarioSpec != nil ? "; the recorded scenario is replayed" : ""))
            }
        }
        if let recorded = record.programDigest, let program = record.program {
            // Our node may live elsewhere now (another build dir); other targets are compared where they were.
            let path = (record.target ?? TargetKind.dqliteNode.rawValue) == TargetKind.dqliteNode.rawValue ? nodeExecutable : program
            let now = FileDigest.fnv64(path: path)
            if now != recorded { differences.append("the node program differs from the recorded run's (\(program) digest \(recorded), now \(path) digest \(now))") }
        }
        if let seed, seed != record.seed { differences.append("seed \(seed) instead of the recorded \(record.seed)") }
        return ReplaySetup(scenario: scenario, timeline: record.replayTimeline, seed: seed ?? record.seed,
                           scenarioDigest: record.scenarioDigest, differences: differences)
    }
}
