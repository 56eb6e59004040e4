import DqliteClient

/// Jepsen's set: clients add unique integers (one INSERT each, autocommit) and now and then read the whole
/// set; checked as a set (lost, stale reads, unexpected, duplicates).
struct SetWorkload: ChaosWorkload {
    let spec: WorkloadSpec
    let clients: WorkloadClients
    let history: HistoryWriter
    let stats: WorkloadStats
    let elements = ElementCounter()

    var model: String { "set" }
    var schema: [String] { ["CREATE TABLE IF NOT EXISTS elements (id INTEGER PRIMARY KEY AUTOINCREMENT, e INTEGER NOT NULL)"] }
    /// One operation in this many is a read of the whole set (reads grow with the set).
    static let readEvery: UInt64 = 8

    actor ElementCounter {
        private var next: Int64 = 1
        func take() -> Int64 { defer { next += 1 }; return next }
    }

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
            let roll = rng.next() % Self.readEvery == 0
            let read = (role == .mixed ? roll : role == .read) || clients.gate.writesHeld
            let element = read ? 0 : await elements.take()
            await history.client(process: process, type: "invoke", f: read ? "read" : "add", value: read ? "null" : String(element))
            var sent = false
            do {
                let c: Connection
                if let existing = connection { c = existing } else {
                    c = try await client.open(AppendWorkload.database)
                    connection = c
                }
                if read {
                    let rows = try await c.queryAll("SELECT e FROM elements ORDER BY id").rows
                    let values = rows.compactMap { if case .integer(let v) = $0.first { v } else { nil } }
                    await history.client(process: process, type: "ok", f: "read", value: "[" + values.map(String.init).joined(separator: ",") + "]")
                } else {
                    sent = true
                    _ = try await c.exec("INSERT INTO elements (e) VALUES (?)", [.integer(element)])
                    await history.client(process: process, type: "ok", f: "add", value: String(element))
                    await stats.acknowledge(key: 0, element: element)
                }
                await stats.record("ok")
            } catch {
                await connection?.close()
                connection = nil
                let (type, message) = outcome(of: error, wrote: sent)
                await history.client(process: process, type: type, f: read ? "read" : "add", value: read ? "null" : String(element), error: message)
                await stats.record(type)
                if type == "info" { process += spec.concurrency }
            }
        }
        await connection?.close()
    }

    func finalRead(process: Int) async -> WorkloadState? {
        await history.client(process: process, type: "invoke", f: "read", value: "null")
        do {
            let c = try await clients.shared.open(AppendWorkload.database)
            defer { Task { await c.close() } }
            let rows = try await c.queryAll("SELECT e FROM elements ORDER BY id").rows
            let values = rows.compactMap { if case .integer(let v) = $0.first { v } else { nil } }
            await history.client(process: process, type: "ok", f: "read", value: "[" + values.map(String.init).joined(separator: ",") + "]")
            return values.isEmpty ? [:] : [0: values.sorted()]
        } catch {
            await history.client(process: process, type: "fail", f: "read", value: "null", error: "\(error)")
            return nil
        }
    }

    func state(ofDump path: String) throws -> WorkloadState {
        let values = try readDump(path, "SELECT e FROM elements ORDER BY id", columns: 1).compactMap { $0[0] }
        return values.isEmpty ? [:] : [0: values.sorted()]
    }

    func missing(from state: WorkloadState) async -> [String] {
        let lacking = (await stats.acknowledged[0] ?? []).subtracting(state[0] ?? [])
        return lacking.isEmpty ? [] : ["lacks \(lacking.count) acknowledged adds, e.g. \(lacking.sorted().prefix(5))"]
    }

    func acknowledgedSummary() async -> String { "all \(await stats.acknowledged[0]?.count ?? 0) acknowledged adds are on every node" }
}
