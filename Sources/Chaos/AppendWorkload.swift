import DqliteClient
import DqliteWire

/// The keys in use and the next element of each: every element is appended at most once in the whole run, and
/// a key that has had `maxWritesPerKey` appends is retired for a fresh one (keeps lists, and reads, short).
actor KeySpace {
    private var active: [Int64]
    private var nextKey: Int64
    private var nextElement: [Int64: Int64] = [:]
    private let maxWrites: Int64
    /// Every key ever used, for the final reads.
    private(set) var used: Set<Int64> = []

    init(keys: Int, maxWritesPerKey: Int) {
        active = (0..<Int64(keys)).map { $0 }
        nextKey = Int64(keys)
        maxWrites = Int64(maxWritesPerKey)
    }

    /// Picks a key for micro-op number `roll`; for an append, also its element.
    func pick(_ roll: UInt64, append: Bool) -> (key: Int64, element: Int64) {
        let slot = Int(roll % UInt64(active.count))
        let key = active[slot]
        used.insert(key)
        guard append else { return (key, 0) }
        let element = nextElement[key, default: 1]
        nextElement[key] = element + 1
        if element >= maxWrites {
            active[slot] = nextKey
            nextKey += 1
        }
        return (key, element)
    }
}

/// One micro-operation of a list-append transaction.
enum MicroOp: Sendable {
    case append(key: Int64, element: Int64)
    case read(key: Int64, result: [Int64]?)

    var json: String {
        switch self {
        case let .append(k, e): "[\"append\",\(k),\(e)]"
        case let .read(k, r): "[\"r\",\(k),\(r.map { "[" + $0.map(String.init).joined(separator: ",") + "]" } ?? "null")]"
        }
    }
}

/// Counters the status line prints.
actor WorkloadStats {
    var ok = 0, fail = 0, info = 0
    var acknowledged: [Int64: Set<Int64>] = [:]
    func record(_ type: String) {
        switch type {
        case "ok": ok += 1
        case "fail": fail += 1
        default: info += 1
        }
    }
    func acknowledge(_ ops: [MicroOp]) {
        for case let .append(k, e) in ops { acknowledged[k, default: []].insert(e) }
    }
    func acknowledge(key: Int64, element: Int64) { acknowledged[key, default: []].insert(element) }
    var snapshot: (ok: Int, fail: Int, info: Int) { (ok, fail, info) }
}

/// Clients running list-append transactions (`BEGIN`, inserts and ordered reads, `COMMIT`) against the
/// cluster, each a logical process of the history. An outcome is `ok`, `fail` (certainly did not happen: an
/// error before COMMIT, or a COMMIT refused) or `info` (the COMMIT's outcome is unknown); after an `info` the
/// client continues as a new process, as HISTORY.md requires.
struct AppendWorkload: Sendable {
    static let database = "chaos"
    static let schema = "CREATE TABLE IF NOT EXISTS appends (id INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER NOT NULL, v INTEGER NOT NULL)"

    let spec: WorkloadSpec
    let clients: WorkloadClients
    let history: HistoryWriter
    let keys: KeySpace
    let stats: WorkloadStats

    /// Runs worker `index` until `until`.
    func worker(_ index: Int, rng start: SeededRandom, until deadline: ContinuousClock.Instant) async {
        var rng = start
        var process = index
        var connection: Connection?
        var pacer = Pacer(spec)
        let role = spec.role(of: index)
        let client = clients.client(index)
        while ContinuousClock.now < deadline {
            await pacer.wait()
            await clients.gate.waitWhileAllHeld(until: deadline)
            let writesHeld = clients.gate.writesHeld
            var ops: [MicroOp] = []
            let length = spec.txnLength[0] + Int(rng.next() % UInt64(spec.txnLength[1] - spec.txnLength[0] + 1))
            for _ in 0..<length {
                let coin = rng.next() & 1 == 0
                let append = (role == .mixed ? coin : role == .write) && !writesHeld
                let (k, e) = await keys.pick(rng.next(), append: append)
                ops.append(append ? .append(key: k, element: e) : .read(key: k, result: nil))
            }
            await history.client(process: process, type: "invoke", f: "txn", value: Self.json(ops))
            let outcome = await run(ops, on: &connection, client: client)
            switch outcome {
            case .ok(let done, let node):
                await history.client(process: process, type: "ok", f: "txn", value: Self.json(done), node: node)
                await stats.acknowledge(done)
            case .fail(let message):
                await history.client(process: process, type: "fail", f: "txn", value: Self.json(ops), error: message)
            case .info(let message):
                await history.client(process: process, type: "info", f: "txn", value: Self.json(ops), error: message)
                process += spec.concurrency
            }
            await stats.record(outcome.type)
        }
        await connection?.close()
    }

    enum Outcome {
        /// The operations with their reads, and the node that served them.
        case ok([MicroOp], String?), fail(String), info(String)
        var type: String {
            switch self { case .ok: "ok"; case .fail: "fail"; case .info: "info" }
        }
    }

    /// One transaction; any error drops the connection (a new one finds the leader again).
    private func run(_ ops: [MicroOp], on connection: inout Connection?, client: DqliteClient) async -> Outcome {
        var committing = false
        do {
            let c: Connection
            if let existing = connection { c = existing } else {
                c = try await client.open(Self.database)
                connection = c
            }
            let appends = ops.contains { if case .append = $0 { true } else { false } }
            if appends && spec.begin == .immediate { try await c.exec("BEGIN IMMEDIATE") } else { try await c.begin() }
            var done: [MicroOp] = []
            for op in ops {
                switch op {
                case let .append(k, e):
                    _ = try await c.exec("INSERT INTO appends (k, v) VALUES (?, ?)", [.integer(k), .integer(e)])
                    done.append(op)
                case let .read(k, _):
                    let rows = try await c.queryAll("SELECT v FROM appends WHERE k = ? ORDER BY id", [.integer(k)]).rows
                    done.append(.read(key: k, result: rows.compactMap { if case .integer(let v) = $0.first { v } else { nil } }))
                }
            }
            committing = true
            try await c.commit()
            return .ok(done, await c.leaderAddress)
        } catch {
            await connection?.close()
            connection = nil
            let message = "\(error)"
            guard committing else { return .fail(message) }
            if error.outcome == .didNotHappen { return .fail(message) }
            return .info(message)
        }
    }

    static func json(_ ops: [MicroOp]) -> String { "[" + ops.map(\.json).joined(separator: ",") + "]" }
}
