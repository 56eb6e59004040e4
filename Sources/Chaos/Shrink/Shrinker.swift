import Foundation

/// A smaller version of a failing run: its fault timeline (each fault on the node it hit) and its length.
public struct ShrinkCandidate: Codable, Sendable, Equatable {
    public var timeline: [PlannedFault]
    public var durationS: Double

    enum CodingKeys: String, CodingKey { case timeline, durationS = "duration_s" }
}

/// One step of a shrink, as printed and recorded in shrink/summary.json.
public struct ShrinkStep: Codable, Sendable {
    public var step: Int
    public var tried: String
    public var faults: Int
    public var durationS: Double
    public var stillFails: Bool
    public var outcome: String
    public var runDirectory: String

    enum CodingKeys: String, CodingKey { case step, tried, faults, durationS = "duration_s", stillFails = "still_fails", outcome, runDirectory = "run_directory" }
}

/// Minimises a failing run by delta debugging over its applied fault timeline (drop faults, then shorten
/// each, then shorten the run), re-running replays and keeping a candidate only when it still fails with the
/// same class of failure (`FailureClass`). Runs are real: each candidate is a replay of the same seed on a
/// fresh cluster, so a candidate that passes by luck is only a missed reduction, never a wrong result.
public struct Shrinker: Sendable {
    public let original: RunRecord
    /// Runs a candidate as replay number `step`; its record (nil: a harness error, counted as not failing).
    public let run: @Sendable (ShrinkCandidate, Int) async -> (record: RunRecord?, directory: String)
    /// Tries per candidate: it still fails when any try fails the same way (failures that need luck).
    public var tries = 1
    /// Stops after this many candidate runs.
    public var maxRuns = 40
    public let say: @Sendable (String) -> Void

    public init(original: RunRecord, run: @escaping @Sendable (ShrinkCandidate, Int) async -> (record: RunRecord?, directory: String),
                say: @escaping @Sendable (String) -> Void) {
        self.original = original
        self.run = run
        self.say = say
    }

    public struct Result: Sendable {
        public var best: ShrinkCandidate
        /// The run directory of the smallest failing run (nil: no smaller one failed; the original stands).
        public var bestDirectory: String?
        public var steps: [ShrinkStep]
    }

    public func shrink() async -> Result {
        let wanted = FailureClass(original)
        var best = ShrinkCandidate(timeline: original.replayTimeline, durationS: original.scenarioSpec?.durationS ?? 30)
        var bestDirectory: String?
        var steps: [ShrinkStep] = []
        say("shrinking: \(best.timeline.count) faults, \(best.durationS) s, \(wanted)")

        /// Runs `c`; whether it still fails the same way (then it becomes the best).
        func attempt(_ c: ShrinkCandidate, _ what: String) async -> Bool {
            for _ in 0..<tries {
                guard steps.count < maxRuns else { return false }
                let n = steps.count + 1
                let (record, dir) = await run(c, n)
                let got = record.map(FailureClass.init)
                let fails = got.map(wanted.matches) ?? false
                let outcome = record == nil ? "harness error" : got!.failed ? "fails: \(got!)" : "passes"
                steps.append(ShrinkStep(step: n, tried: what, faults: c.timeline.count, durationS: c.durationS, stillFails: fails,
                                        outcome: outcome, runDirectory: dir))
                say("step \(n): \(what) -> \(c.timeline.count) faults, \(c.durationS) s: \(outcome)\(fails ? " (kept)" : "")")
                if fails {
                    best = c
                    bestDirectory = dir
                    return true
                }
            }
            return false
        }

        // 1. Drop faults: no fault at all first (a bug that needs none), then ddmin over the timeline.
        if !best.timeline.isEmpty {
            var none = best
            none.timeline = []
            if !(await attempt(none, "drop every fault")) {
                var n = 2
                while best.timeline.count >= 2 && steps.count < maxRuns {
                    let chunks = Self.split(best.timeline.count, into: n)
                    var reduced = false
                    for chunk in chunks {
                        var c = best
                        c.timeline = best.timeline.enumerated().filter { !chunk.contains($0.offset) }.map(\.element)
                        let names = chunk.map { "#\($0 + 1) \(best.timeline[$0].type.rawValue)" }.joined(separator: ", ")
                        if await attempt(c, "drop \(names)") {
                            n = max(n - 1, 2)
                            reduced = true
                            break
                        }
                    }
                    if !reduced {
                        if n >= best.timeline.count { break }
                        n = min(best.timeline.count, n * 2)
                    }
                }
            }
        }
        // 2. Shorten each remaining fault to half (not below half a second).
        var i = 0
        while i < best.timeline.count && steps.count < maxRuns {
            let f = best.timeline[i]
            if f.forS > 1 {
                var c = best
                c.timeline[i].forS = ((f.forS / 2) * 10).rounded() / 10
                _ = await attempt(c, "shorten #\(i + 1) \(f.type.rawValue) to \(c.timeline[i].forS) s")
            }
            i += 1
        }
        // 3. Shorten the run: halve it while it still covers the faults (and a second after the last ends).
        let floor = max(2, (best.timeline.map { $0.atS + $0.forS }.max() ?? 0) + 1)
        while best.durationS / 2 >= floor && steps.count < maxRuns {
            var c = best
            c.durationS = ((best.durationS / 2) * 10).rounded() / 10
            if !(await attempt(c, "shorten the run to \(c.durationS) s")) { break }
        }
        if best.durationS > floor, steps.count < maxRuns, best.durationS / 2 < floor {
            var c = best
            c.durationS = (floor * 10).rounded() / 10
            _ = await attempt(c, "shorten the run to \(c.durationS) s")
        }
        return Result(best: best, bestDirectory: bestDirectory, steps: steps)
    }

    /// `count` indices in `n` contiguous chunks (ddmin's partition).
    static func split(_ count: Int, into n: Int) -> [[Int]] {
        let n = max(1, min(n, count))
        var out: [[Int]] = []
        var start = 0
        for k in 0..<n {
            let end = start + (count - start) / (n - k)
            out.append(Array(start..<end))
            start = end
        }
        return out
    }
}
