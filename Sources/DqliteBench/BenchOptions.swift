/// The workloads of go-dqlite's `dqlite-benchmark`.
public enum Workload: String, Sendable, CaseIterable {
    /// Every operation inserts (or replaces) a new random key.
    case kvwrite
    /// Half the operations read a key this worker wrote, half write a new one.
    case kvreadwrite
    /// Reads only (ours; go-dqlite's benchmark has no such workload): each worker first writes
    /// `BenchOptions.readKeys` keys, untimed, then reads them at random. In kvreadwrite a worker's reads
    /// wait for its writes (a closed loop), so read throughput there is mostly write latency.
    case kvread
}

public struct BenchOptions: Sendable {
    public var cluster: [String]
    public var database = "benchmark"
    public var workload = Workload.kvwrite
    public var workers = 1
    public var duration: Duration = .seconds(60)
    /// A fixed number of successful writes (reads in kvread) instead of a duration, split evenly over the
    /// workers (the first `operations % workers` do one more; failed attempts are not counted): two clusters
    /// compared at the same work, the same rows written (issue 21).
    public var operations: Int?
    /// At most this many operations per second, all workers together (each paces itself at its share,
    /// catching up without bursts past its schedule); nil: as fast as they go.
    public var rate: Double?
    public var keySize = 32
    public var valueSize = 1024
    /// Seed of the key and value generator (worker i uses seed + i).
    public var seed: UInt64 = 1
    /// Prepare each statement once per worker (PREPARE + EXEC/QUERY) instead of sending the SQL with every
    /// request (EXEC_SQL/QUERY_SQL, what go-dqlite's benchmark does through database/sql).
    public var prepared = false
    /// Keep every operation's start time with its latency (`BenchReport.timeline`), to see when the slow
    /// ones happened: a tail made of bursts points at stalls, a spread-out one at queueing.
    public var keepTimeline = false

    public init(cluster: [String]) { self.cluster = cluster }

    /// go-dqlite's benchmark schema.
    static let schema = "CREATE TABLE IF NOT EXISTS model (key TEXT, value TEXT, UNIQUE(key))"
    static let writeSQL = "INSERT OR REPLACE INTO model(key, value) VALUES(?, ?)"
    static let readSQL = "SELECT value FROM model WHERE key = ?"
    /// Keys each kvread worker writes before the clock starts.
    static let readKeys = 64
}
