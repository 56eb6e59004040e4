/// Whether each voter's clock runs at this leader's rate, measured from the monotonic clock readings in the
/// voters' term-probe answers. A read lease rests on the voters' promises to refuse votes for a time that
/// they measure with their own clocks: a voter whose clock runs fast forgets its promise early, and one
/// whose clock runs 11% faster than the leader's (relative to it) outlasts the 10% the lease keeps in hand.
/// So the leader measures, per voter, how far the voter's clock advanced between two of its answers
/// against how far its own did at most, and grants a lease only while every voter counted in the round is
/// proven within `bound`; otherwise reads are confirmed by a round of probes each (ReadIndex, no clock).
struct ClockAgreement {
    /// Largest accepted excess of a voter's clock rate over the leader's, as an upper bound the readings
    /// prove: a voter accepted runs at most 5% fast relative to the leader, inside the 10% a lease keeps
    /// in hand (a slow voter keeps its promise longer than promised, which is safe).
    static let bound = 0.05
    /// Shortest span (leader time) between the two answers of a measurement, so that the uncertainty of
    /// each reading (its probe's round trip, task scheduling, the voter's millisecond resolution) is small
    /// against it.
    static let minSpanNs: UInt64 = 1_000_000_000
    /// Answers older than this are forgotten, so a rate that changes is seen within it.
    static let windowNs: UInt64 = 3_000_000_000
    /// Answers kept as references are at least this far apart: without a lease every read batch runs a
    /// round, and a list of every answer would make each one cost the window's worth of them.
    static let keepEveryNs: UInt64 = 100_000_000

    /// One answer: when the leader sent the probe and heard back (its lease clock, ns) and the voter's
    /// monotonic clock (ms), read somewhere in between.
    struct Sample: Sendable, Equatable {
        var sentNs: UInt64
        var receivedNs: UInt64
        var voterMs: UInt64
    }

    /// What a voter's clock is known to do.
    enum Verdict: Equatable {
        /// Not measured yet (fewer than two answers a second apart within the window).
        case unknown
        /// Runs at most `upTo` times the leader's rate, within the bound.
        case agrees(upTo: Double)
        /// May run up to `upTo` times the leader's rate, beyond the bound.
        case disagrees(upTo: Double)
    }

    private var samples: [String: [Sample]] = [:]
    private(set) var verdicts: [String: Verdict] = [:]

    /// Records `voter`'s answer and bounds its rate against each kept answer of the window at least
    /// `minSpanNs` before it: the voter's clock advanced Δv between its two readings, while at least (sent
    /// of the later − received of the earlier) leader time passed, so Δv over that is an upper bound of the
    /// ratio; the tightest bound counts. Returns the old and new verdicts when the verdict changed.
    mutating func note(_ voter: String, _ s: Sample) -> (from: Verdict, to: Verdict)? {
        var list = samples[voter, default: []]
        // A restarted voter's clock may start anywhere: a reading a second or more behind one already seen
        // starts afresh. (Rounds run concurrently and are noted as they finish, not as their answers came,
        // so readings arrive slightly out of order: that alone is no restart.)
        if let highest = list.map(\.voterMs).max(), s.voterMs + 1000 < highest { list.removeAll() }
        let newestKept = list.map(\.receivedNs).max() ?? 0
        if list.isEmpty || s.receivedNs >= newestKept + Self.keepEveryNs { list.append(s) }
        let newest = max(newestKept, s.receivedNs)
        list.removeAll { newest > $0.receivedNs + Self.windowNs }
        samples[voter] = list
        var upTo: Double?
        for ref in list where s.sentNs >= ref.receivedNs + Self.minSpanNs && s.voterMs >= ref.voterMs {
            // The voter's readings are 1 ms coarse: one more ms of its time may have passed.
            let bound = Double(s.voterMs - ref.voterMs + 1) * 1_000_000 / Double(s.sentNs - ref.receivedNs)
            upTo = min(upTo ?? bound, bound)
        }
        let verdict: Verdict = upTo.map { $0 <= 1 + Self.bound ? .agrees(upTo: $0) : .disagrees(upTo: $0) } ?? .unknown
        let old = verdicts[voter] ?? .unknown
        verdicts[voter] = verdict
        switch (old, verdict) {
        case (.unknown, .unknown), (.agrees, .agrees), (.disagrees, .disagrees): return nil
        default: return (old, verdict)
        }
    }

    /// Whether a lease may rest on the promises of `voters`: each one's clock measured and within the bound.
    func trusts(_ voters: [String]) -> Bool {
        voters.allSatisfy { if case .agrees = verdicts[$0] ?? .unknown { true } else { false } }
    }
}
