/// What a voter does once it knows its leader's process is gone (see `LeaderWatch`): the arithmetic, apart
/// from C-Raft, so that it can be tested on its own. Times are C-Raft's clock (uv_now, ms).
enum LeaderLoss {
    /// The randomized election timeout that makes a follower's election timer, started at `timerStart`,
    /// fire `rank` steps after `now`, or after `promisedUntil` if that is later (a promise to refuse votes,
    /// given for a read lease, is kept). Never later than the timer would fire anyway (`current`).
    static func electionTimeout(now: UInt64, timerStart: UInt64, current: UInt32, promisedUntil: UInt64,
                                rank: Int, stepMs: UInt64) -> UInt32 {
        let fire = max(now, promisedUntil) + UInt64(max(rank, 0)) * stepMs
        let wanted = fire > timerStart ? fire - timerStart : 0
        return wanted < UInt64(current) ? UInt32(wanted) : current
    }

    /// Where `id` stands among the voters left when `leader` is gone, by id: the first stands for election
    /// first, the next one step later, and so on, so that two of them rarely split the vote. -1 when `id`
    /// is not one of them.
    static func rank(of id: UInt64, voters: [UInt64], leader: UInt64) -> Int {
        voters.filter { $0 != leader }.sorted().firstIndex(of: id) ?? -1
    }
}
