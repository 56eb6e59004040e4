#if canImport(Glibc)
import Glibc
#endif
import DqliteClient
import DqliteWire

/// Runs a `dqlite-benchmark` workload through DqliteClient: each worker has its own connection to the leader
/// and loops until the duration is over. Errors are counted by class and the loop goes on, as go-dqlite's
/// benchmark does (so "database is locked" from dqlite 1.11's single writer is counted, not retried).
public enum Benchmark {
    public static func run(_ options: BenchOptions, config: ClientConfig = ClientConfig()) async throws -> BenchReport {
        guard options.workers > 0 else { throw DqliteError.misuse("--workers must be at least 1") }
        guard options.keySize > 0, options.valueSize >= 0 else { throw DqliteError.misuse("key size must be positive and value size not negative") }
        if let n = options.operations, n < 1 { throw DqliteError.misuse("--ops must be at least 1") }
        if let r = options.rate, !(r > 0) { throw DqliteError.misuse("--rate must be positive") }
        let client = try DqliteClient(addresses: options.cluster, config: config)
        let setup = try await client.open(options.database)
        try await setup.exec(BenchOptions.schema)
        await setup.close()

        let connections = try await withThrowingTaskGroup(of: Connection.self) { group in
            for _ in 0..<options.workers { group.addTask { try await client.open(options.database) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // kvread: every worker's keys are written before the clock starts (with a seed of their own).
        var keysWritten: [[String]] = Array(repeating: [], count: connections.count)
        if options.workload == .kvread {
            for (i, connection) in connections.enumerated() {
                var writer = Worker(options: options, connection: connection, seed: options.seed &+ 0x5EED &+ UInt64(i))
                for _ in 0..<BenchOptions.readKeys {
                    let key = writer.randomString(options.keySize)
                    try await connection.exec(BenchOptions.writeSQL, [.text(key), .text(writer.randomValue(options.valueSize))])
                    keysWritten[i].append(key)
                }
            }
        }
        let readKeys = keysWritten
        let cpuBefore = cpuTime()
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let start = ContinuousClock.now
        // With a number of operations, the duration no longer ends the run (an hour still does).
        let deadline = options.operations == nil ? start + options.duration : start + .seconds(3600)
        let reports = await withTaskGroup(of: (QueryReport, QueryReport, [TimedOperation]).self) { group in
            for (i, connection) in connections.enumerated() {
                // Workers run on the client's event loop thread: a reply then resumes its worker on the
                // thread that saw it arrive, with no hop through the global pool.
                group.addTask(executorPreference: EventLoop.shared) {
                    var worker = Worker(options: options, connection: connection, seed: options.seed &+ UInt64(i))
                    worker.keys = readKeys[i]
                    await worker.prepare()
                    let quota = options.operations.map { $0 / options.workers + (i < $0 % options.workers ? 1 : 0) }
                    let every = options.rate.map { Duration.seconds(Double(options.workers) / $0) }
                    await worker.run(from: start, until: deadline, quota: quota, every: every)
                    return (worker.exec, worker.query, worker.timeline)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = cpuTime() - cpuBefore
        for c in connections { await c.close() }
        var report = BenchReport(options: options, elapsed: elapsed, cpu: cpu)
        report.startedAtUnixNs = UInt64(wall.tv_sec) * 1_000_000_000 + UInt64(wall.tv_nsec)
        for (e, q, t) in reports {
            report.exec.merge(e)
            report.query.merge(q)
            report.timeline += t
        }
        return report
    }

    /// User + system CPU time of this process.
    static func cpuTime() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func d(_ t: timeval) -> Duration { .seconds(t.tv_sec) + .microseconds(t.tv_usec) }
        return d(usage.ru_utime) + d(usage.ru_stime)
    }
}

struct Worker {
    let options: BenchOptions
    let connection: Connection
    var rng: SplitMix64
    var keys: [String] = []
    var exec = QueryReport()
    var query = QueryReport()
    var writeStatement: Statement?
    var readStatement: Statement?
    /// Filled only with `BenchOptions.keepTimeline`.
    var timeline: [TimedOperation] = []

    init(options: BenchOptions, connection: Connection, seed: UInt64) {
        self.options = options
        self.connection = connection
        rng = SplitMix64(seed: seed)
    }

    /// With `--prepared`, prepares the two statements (a failure leaves the SQL path in place).
    mutating func prepare() async {
        guard options.prepared else { return }
        writeStatement = try? await connection.prepare(BenchOptions.writeSQL)
        readStatement = try? await connection.prepare(BenchOptions.readSQL)
    }

    /// Runs until `deadline`, or until `quota` operations succeeded when given; with `every`, one attempt per
    /// interval at most, on a fixed schedule from `start`.
    mutating func run(from start: ContinuousClock.Instant, until deadline: ContinuousClock.Instant, quota: Int? = nil, every: Duration? = nil) async {
        func keep(_ t0: ContinuousClock.Instant, _ latency: Duration, write: Bool) {
            guard options.keepTimeline else { return }
            timeline.append(TimedOperation(startNs: LatencyStats.nanoseconds(t0 - start), latencyNs: LatencyStats.nanoseconds(latency),
                                           isWrite: write))
        }
        var attempts = 0
        // The quota counts writes that succeeded (reads in kvread): "database is locked" from dqlite 1.11's
        // single writer would otherwise end a run with a fraction of the rows written, and in kvreadwrite its
        // readers would make up the count (equal work means equal rows).
        while ContinuousClock.now < deadline && (options.workload == .kvread ? query.ok : exec.ok) < (quota ?? .max) {
            if let every {
                let due = start + every * attempts
                if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
            }
            attempts += 1
            let read = options.workload == .kvread || (options.workload == .kvreadwrite && !keys.isEmpty && rng.next() & 1 == 0)
            if read {
                let key = keys[Int(rng.next() % UInt64(keys.count))]
                let t0 = ContinuousClock.now
                do {
                    let rows = if let readStatement {
                        try await readStatement.query([.text(key)]).collect()
                    } else {
                        try await connection.queryAll(BenchOptions.readSQL, [.text(key)]).rows
                    }
                    guard rows.count == 1 else { throw DqliteError.misuse("key \(key) not found") }
                    let latency = ContinuousClock.now - t0
                    query.latencies.record(latency)
                    keep(t0, latency, write: false)
                } catch {
                    query.errors[(error as? DqliteError)?.kind ?? .usage, default: 0] += 1
                }
            } else {
                let key = randomString(options.keySize)
                let value = randomValue(options.valueSize)
                let t0 = ContinuousClock.now
                do {
                    if let writeStatement {
                        try await writeStatement.exec([.text(key), .text(value)])
                    } else {
                        try await connection.exec(BenchOptions.writeSQL, [.text(key), .text(value)])
                    }
                    let latency = ContinuousClock.now - t0
                    exec.latencies.record(latency)
                    keep(t0, latency, write: true)
                    if options.workload == .kvreadwrite { keys.append(key) }
                } catch {
                    exec.errors[error.kind, default: 0] += 1
                }
            }
        }
    }

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    mutating func randomString(_ n: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: n)
        for i in 0..<n { bytes[i] = Self.letters[Int(rng.next() % 52)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Half one repeated letter, half random letters: partly compressible, like go-dqlite's values.
    mutating func randomValue(_ n: Int) -> String {
        let repeated = Self.letters[Int(rng.next() % 52)]
        var bytes = [UInt8](repeating: repeated, count: n)
        for i in (n / 2)..<n { bytes[i] = Self.letters[Int(rng.next() % 52)] }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A small deterministic generator, so a run's keys follow from its seed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
