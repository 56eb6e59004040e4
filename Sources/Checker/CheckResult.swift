// What a check concludes: a verdict, the anomalies behind it (each with the operations involved and a human
// explanation), and how long each phase took.

public enum Verdict: String, Sendable {
    case valid, invalid, unknown
}

public enum Consistency: String, Sendable, CaseIterable {
    case strictSerializable = "strict-serializable"
    case serializable
    case snapshotIsolation = "snapshot-isolation"
    case linearizable

    /// The level a model is checked at unless the caller asks for another.
    public static func defaultLevel(for model: Model) -> Consistency {
        model == .listAppend ? .strictSerializable : .linearizable
    }

    public static func allowed(for model: Model) -> [Consistency] {
        model == .listAppend ? [.strictSerializable, .serializable, .snapshotIsolation] : [.linearizable]
    }
}

/// One step of a dependency cycle: `from` must precede `to`, for the reason given.
public struct CycleStep: Sendable {
    public var from: Int          // operation ids (positions in `History.operations`)
    public var to: Int
    public var edge: String       // "ww", "wr", "rw", "process", "realtime"
    public var why: String
}

public struct Anomaly: Sendable {
    /// The anomaly class: "G0", "G1c-realtime", "lost-update", "stale-read", "nonlinearizable", ...
    public var type: String
    public var operations: [Int]
    public var key: Int64?
    /// For cycles: the witness cycle, each edge with its reason.
    public var cycle: [CycleStep] = []
    /// Human explanation, one sentence per line.
    public var explanation: [String]

    public init(type: String, operations: [Int], key: Int64? = nil, cycle: [CycleStep] = [], explanation: [String]) {
        self.type = type
        self.operations = operations
        self.key = key
        self.cycle = cycle
        self.explanation = explanation
    }
}

public struct PhaseTimings: Sendable {
    public var parse: Duration = .zero
    public var build: Duration = .zero      // indexing, non-cycle checks, dependency graph
    public var search: Duration = .zero     // SCCs and witness cycles, or the linearizability search
}

public struct CheckResult: Sendable {
    public var verdict: Verdict
    public var model: Model
    public var consistency: Consistency
    /// The anomalies reported, at most `CheckOptions.maxReportedPerType` of each type.
    public var anomalies: [Anomaly]
    /// How many of each type were found (reported or not), in order of first appearance.
    public var anomalyCounts: [(type: String, count: Int)]
    /// Why the verdict is unknown (time or memory budget), when it is.
    public var unknownReasons: [String]
    /// Observations that do not change the verdict (e.g. elements never read, cycles allowed at this level).
    public var notes: [String]
    public var operationCount: Int
    public var timings: PhaseTimings

    public var anomalyTypes: [String] { anomalyCounts.map(\.type) }
}

public struct CheckOptions: Sendable {
    public var consistency: Consistency?
    /// After this, parts of the search not finished give `unknown` (never a guess).
    public var timeLimit: Duration = .seconds(600)
    /// Bytes the linearizability search may hold in its memo tables, across keys.
    public var memoryLimit: Int = 1 << 30
    public var maxReportedPerType = 20
    /// The register search tries completed operations by earliest return first, then by call (see
    /// `RegisterChecker.search`); this swaps the two, so that tests can cross-check both orders.
    public var registerSearchByCallFirst = false

    public init(consistency: Consistency? = nil, timeLimit: Duration = .seconds(600)) {
        self.consistency = consistency
        self.timeLimit = timeLimit
    }
}

/// Collects anomalies, keeping counts of all and details of the first few of each type.
struct AnomalyLog {
    private(set) var reported: [Anomaly] = []
    private(set) var counts: [(type: String, count: Int)] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Counts an anomaly; `make` builds its details only if it will be reported.
    mutating func add(_ type: String, _ make: () -> Anomaly) {
        if let i = counts.firstIndex(where: { $0.type == type }) {
            counts[i].count += 1
            if counts[i].count <= limit { reported.append(make()) }
        } else {
            counts.append((type, 1))
            reported.append(make())
        }
    }

    func count(_ type: String) -> Int { counts.first(where: { $0.type == type })?.count ?? 0 }
}
