/// How many entries C-Raft keeps in its log (and memory) after a snapshot. dqlite's 8192 entries hold
/// about 64 MiB when each entry is one small transaction; grouped commits make entries several times
/// bigger (8 writers: ~50 KiB each), and 8192 of them held about 400 MiB per node. So the count follows
/// the entries' average size to keep about `budgetBytes` of them, never more than the configured count
/// nor fewer than `floor` (followers a little behind still catch up from the log, not a snapshot).
struct TrailingBudget {
    let configured: UInt32
    let budgetBytes: Int
    let floor: UInt32
    /// Exponential moving average of entry sizes (bytes).
    private(set) var averageBytes: Double = 0
    private var applied = 0
    /// The count last given to Raft.
    private(set) var current: UInt32

    init(configured: UInt32, budgetBytes: Int = 64 << 20, floor: UInt32 = 256) {
        self.configured = configured
        self.budgetBytes = budgetBytes
        self.floor = min(floor, configured)
        current = configured
    }

    /// Records an applied entry's size; a new count when it moved by more than a tenth (checked every 64
    /// entries), else nil.
    mutating func note(entryBytes: Int) -> UInt32? {
        averageBytes = averageBytes == 0 ? Double(entryBytes) : averageBytes * 0.98 + Double(entryBytes) * 0.02
        applied += 1
        guard applied % 64 == 0, averageBytes > 0 else { return nil }
        let wanted = UInt32(max(Double(floor), min(Double(configured), Double(budgetBytes) / averageBytes)))
        guard wanted > current + current / 10 || wanted < current - current / 10 else { return nil }
        current = wanted
        return wanted
    }
}
