/// A count of Raft entries that follows the entries' size, so the entries it counts hold about `budgetBytes`.
/// C-Raft counts entries, dqlite's counts assume small ones, and entries are not small: grouped commits
/// make them several times bigger (8 writers: ~50 KiB each), a transaction of 1 000 rows of 1 KiB is one entry
/// of 1.3 MB. Two counts follow it:
/// - the snapshot trailing (entries kept after a snapshot): dqlite's 8192 held about 400 MiB per node at
///   8 writers, and followers a little behind must still catch up from the log (`floor`);
/// - the snapshot threshold (entries applied before C-Raft asks for a snapshot): dqlite's 1024 entries of
///   1.3 MB kept 1.1 GB of log in memory before the first snapshot of a 1.3 GB database.
/// Never more than the configured count nor fewer than `floor`.
struct EntryCountBudget {
    let configured: UInt32
    let budgetBytes: Int
    let floor: UInt32
    /// The count last given to Raft.
    private(set) var current: UInt32

    init(configured: UInt32, budgetBytes: Int, floor: UInt32) {
        self.configured = configured
        self.budgetBytes = budgetBytes
        self.floor = min(floor, configured)
        current = configured
    }

    /// The count for entries of `averageBytes` when it moved by more than a tenth, else nil.
    mutating func update(averageBytes: Double) -> UInt32? {
        guard averageBytes > 0 else { return nil }
        let wanted = UInt32(max(Double(floor), min(Double(configured), Double(budgetBytes) / averageBytes)))
        guard wanted > current + current / 10 || wanted < current - current / 10 else { return nil }
        current = wanted
        return wanted
    }
}

/// The applied entries' size, as an exponential moving average: both `EntryCountBudget`s follow it.
struct EntrySizeAverage {
    private(set) var bytes: Double = 0
    private var applied = 0

    /// Records an applied entry's size; true every 8 entries, when the counts that follow it are worth
    /// updating.
    mutating func note(entryBytes: Int) -> Bool {
        bytes = bytes == 0 ? Double(entryBytes) : bytes * 0.95 + Double(entryBytes) * 0.05
        applied += 1
        return applied % 8 == 0
    }
}
