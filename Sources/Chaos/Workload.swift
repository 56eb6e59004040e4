import CSQLite
import DqliteClient

/// What a workload's final phase compares: key → values (list-append: the list in insertion order; set:
/// key 0 → the elements; register: key → [value], absent when unset).
typealias WorkloadState = [Int64: [Int64]]

/// A workload of the chaos bed (`workload.model`): its tables, its clients, and what the final phase reads
/// through the leader, finds in each node's own copy, and counts as acknowledged.
protocol ChaosWorkload: Sendable {
    /// HISTORY.md's model, written in the history's first line.
    var model: String { get }
    /// Statements creating the workload's tables (idempotent).
    var schema: [String] { get }
    /// Client `index` until `deadline`; every operation goes to the history.
    func worker(_ index: Int, rng: SeededRandom, until deadline: ContinuousClock.Instant) async
    /// Reads everything through the leader, recorded in the history as `process`; nil when that failed.
    func finalRead(process: Int) async -> WorkloadState?
    /// The state in the SQLite file `path` (a node's DUMP).
    func state(ofDump path: String) throws -> WorkloadState
    /// The acknowledged writes `state` lacks, described (at most a few).
    func missing(from state: WorkloadState) async -> [String]
    /// The durability check's line when nothing is missing.
    func acknowledgedSummary() async -> String
}

/// Spaces one client's operations so that all of them together run at `rate_hz` (none when it is 0).
struct Pacer {
    private let interval: Duration?
    private var next = ContinuousClock.now

    init(_ spec: WorkloadSpec) {
        interval = spec.rateHz > 0 ? .seconds(Double(spec.concurrency) / spec.rateHz) : nil
    }

    /// Waits for this client's next turn.
    mutating func wait() async {
        guard let interval else { return }
        next += interval
        if next > ContinuousClock.now { try? await Task.sleep(until: next, clock: .continuous) }
    }
}

/// Reads the rows of `sql` (integer columns) from the SQLite file `path`.
func readDump(_ path: String, _ sql: String, columns: Int32) throws -> [[Int64?]] {
    var db: OpaquePointer?
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
        sqlite3_close(db)
        throw ChaosError.harness("cannot open the dump \(path)")
    }
    defer { sqlite3_close(db) }
    var stmt: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else {
        throw ChaosError.harness("the dump \(path) cannot run \(sql): \(String(cString: sqlite3_errmsg(db)))")
    }
    defer { sqlite3_finalize(stmt) }
    var rows: [[Int64?]] = []
    while true {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_DONE { return rows }
        guard rc == SQLITE_ROW else { throw ChaosError.harness("reading the dump \(path): \(String(cString: sqlite3_errmsg(db)))") }
        rows.append((0..<columns).map { sqlite3_column_type(stmt, $0) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, $0) })
    }
}

/// How a failed operation counts: `fail` when it certainly did not take effect (a read, an error before the
/// write was sent, a refused write), else `info`.
func outcome(of error: any Error, wrote: Bool) -> (type: String, message: String) {
    let message = "\(error)"
    guard wrote else { return ("fail", message) }
    if let e = error as? DqliteError, e.outcome == .didNotHappen { return ("fail", message) }
    return ("info", message)
}
