#if canImport(Glibc)
import Glibc
#endif
import CRaft

/// A leader's read lease: a span of time in which no other leader can be elected, so reads need no round of
/// term probes (Raft thesis §6.4.1, with C-Raft's own rule as its ground). A C-Raft voter that follows a
/// leader refuses every vote (pre-vote included) until its election timer fires, unless the vote is a
/// leadership transfer's. A voter answering a term probe also promises a part of that time
/// (`followerStickiness`, `promiseMs`); once voters that make a majority with the leader have said so, no leader of a
/// later term can be elected before the earliest of those times has passed, measured from when the probes
/// were sent. Not while a transfer or a configuration change is under way (`covers`), and a restarted
/// node, which forgot whom it followed, waits out the longest lease before it starts Raft (see `Node.init`).
struct ReadLease {
    /// The leader's term the lease is for.
    private(set) var term: UInt64 = 0
    /// Time (`ReadLease.now()`, ns) until which reads may be served without probes.
    private(set) var until: UInt64 = 0
    /// How long the last grant lasted (ns): renewal starts once half of it is left.
    private(set) var span: UInt64 = 0
    /// The configuration the lease was granted under; a committed change ends it.
    private(set) var configurationIndex: UInt64 = 0

    /// Whether a read arriving at `now` may be served from this leader's state without probes.
    func covers(now: UInt64, term: UInt64, configurationIndex: UInt64, changing: Bool, transferring: Bool) -> Bool {
        term == self.term && now < until && configurationIndex == self.configurationIndex && !changing && !transferring
    }

    /// Whether a renewal round should start: less than half of the lease is left.
    func dueForRenewal(now: UInt64) -> Bool {
        until <= now || until - now < span / 2
    }

    /// Extends the lease after a round of probes sent at `sent` (ns) confirmed `term`, in which voters that
    /// make a majority with this leader answered that they will refuse votes for at least `stickyMs` more.
    mutating func grant(term: UInt64, sent: UInt64, stickyMs: UInt64, configurationIndex: UInt64) {
        let usable = Self.usable(stickyMs)
        guard usable > 0 else { return }
        let end = sent + usable * 1_000_000
        if term != self.term || configurationIndex != self.configurationIndex || end > until {
            self.term = term
            self.until = end
            self.span = usable * 1_000_000
            self.configurationIndex = configurationIndex
        }
    }

    /// Ends the lease at once (leadership lost or handed over).
    mutating func revoke() { until = 0 }

    /// The part of a voter's promise the leader relies on: 90% (clocks of different hosts may run at
    /// slightly different rates) less 5 ms; nothing under 20 ms.
    static func usable(_ stickyMs: UInt64) -> UInt64 {
        let ms = stickyMs * 9 / 10
        return ms > 25 ? ms - 5 : 0
    }

    /// How long `needed` of the voters' answers keep every one of them from voting: the `needed`-th longest
    /// of their promises (0 when fewer than `needed` promised anything).
    static func duration(promises: [UInt64], needed: Int) -> UInt64 {
        guard needed > 0 else { return UInt64.max }
        let sorted = promises.filter { $0 > 0 }.sorted(by: >)
        return sorted.count >= needed ? sorted[needed - 1] : 0
    }

    /// The leader's clock for leases, in ns: CLOCK_BOOTTIME, which unlike CLOCK_MONOTONIC (uv_hrtime) also
    /// runs while the host is suspended, so a leader whose machine slept finds its lease over on waking.
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_BOOTTIME, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// What a voter promises in its answer to a term probe: its stickiness, but at most half an election
    /// timeout. The leader renews its lease more often (a round of probes every quarter of an election
    /// timeout or so, under reads), and a voter that learns its leader died (`LeaderWatch`) keeps its word
    /// for that long at most, instead of 1-2 election timeouts, before it may vote.
    static func promiseMs(stickinessMs: UInt64, electionTimeoutMs: UInt32) -> UInt64 {
        min(stickinessMs, UInt64(electionTimeoutMs / 2))
    }

    /// How long after its start a restarted node waits before handling Raft (see `Node.init`): a voter's promise is at most half an election
    /// timeout now (`promiseMs`), but a version before that promised up to its randomized election timeout,
    /// below twice the configured one, and a node restarted into this version may have given such promises.
    static func restartDelayMs(electionTimeoutMs: UInt32) -> Int { 2 * Int(electionTimeoutMs) }

    /// Whether `dir` holds Raft state (C-Raft's metadata files): the node ran before.
    static func hasRaftState(dir: String) -> Bool {
        access(dir + "/metadata1", F_OK) == 0 || access(dir + "/metadata2", F_OK) == 0
    }

    /// On a voter: milliseconds until its election timer fires, during which it refuses votes because it
    /// follows a leader; 0 unless it is a follower with a known leader. `nowMs` must not run behind the
    /// clock C-Raft reads (uv_now lags behind uv_hrtime by up to a loop turn, which only shortens this).
    static func followerStickiness(_ raft: UnsafePointer<raft>, nowMs: UInt64) -> UInt64 {
        let r = raft.pointee
        guard r.state == UInt16(RAFT_FOLLOWER), r.follower_state.current_leader.id != 0 else { return 0 }
        let fires = r.election_timer_start + UInt64(r.follower_state.randomized_election_timeout)
        return fires > nowMs ? fires - nowMs : 0
    }
}
