// The entry point: a history (or a file) in, a verdict with explained anomalies out. Pure: no output, no
// process state; the command line and the reports are built on top.

public struct UsageError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum Checker {
    /// Parses and checks the history file at `path`. Throws `FileError`, `HistoryError` or `UsageError`.
    public static func check(path: String, model: Model? = nil, options: CheckOptions = CheckOptions()) async throws -> (History, CheckResult) {
        let clock = ContinuousClock()
        let start = clock.now
        let history = try HistoryParser.parse(path: path, model: model)
        let parsed = clock.now - start
        var result = try await check(history, options: options)
        result.timings.parse = parsed
        return (history, result)
    }

    public static func check(_ h: History, options: CheckOptions = CheckOptions()) async throws -> CheckResult {
        let consistency = options.consistency ?? Consistency.defaultLevel(for: h.model)
        guard Consistency.allowed(for: h.model).contains(consistency) else {
            throw UsageError("consistency \(consistency.rawValue) does not apply to the \(h.model.rawValue) model (use \(Consistency.allowed(for: h.model).map(\.rawValue).joined(separator: ", ")))")
        }
        var timings = PhaseTimings()
        var log: AnomalyLog
        var unknown: [String] = []
        var notes: [String] = []
        switch h.model {
        case .listAppend:
            let out = try ListAppendChecker.check(h, consistency: consistency, options: options, timings: &timings)
            log = out.log
            unknown = out.unknownReasons
            notes = out.notes
        case .set:
            let start = ContinuousClock.now
            (log, notes) = try SetChecker.check(h, options: options)
            timings.search = ContinuousClock.now - start
        case .register, .casRegister:
            let start = ContinuousClock.now
            log = AnomalyLog(limit: options.maxReportedPerType)
            for r in await RegisterChecker.check(h, options: options) {
                if let a = r.anomaly { log.add(a.type) { a } }
                if let u = r.unknown { unknown.append(u) }
            }
            timings.search = ContinuousClock.now - start
        }
        // Everything reported is forbidden at the chosen level (allowed cycles went to notes), and certain:
        // a budget that ran out elsewhere does not undo it.
        let verdict: Verdict = !log.counts.isEmpty ? .invalid : unknown.isEmpty ? .valid : .unknown
        return CheckResult(verdict: verdict, model: h.model, consistency: consistency, anomalies: log.reported,
                           anomalyCounts: log.counts, unknownReasons: unknown, notes: notes,
                           operationCount: h.operations.count, timings: timings)
    }
}
