import DqliteClient

/// Jepsen's cas-register, one register per key (rows of `registers`): reads, writes and compare-and-sets
/// of small values (so that compare-and-sets often match), one statement each; checked for linearizability
/// per key.
struct RegisterWorkload: ChaosWorkload {
    let spec: WorkloadSpec
    let clients: WorkloadClients
    let history: HistoryWriter
    let stats: WorkloadStats

    var model: String { "cas-register" }
    var schema: [String] { ["CREATE TABLE IF NOT EXISTS registers (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)"] }
    /// Values are drawn from 0..<values: few enough that compare-and-sets succeed often.
    static let values: UInt64 = 5

    enum Op {
        case read, write(Int64), cas(Int64, Int64)
        var f: String { switch self { case .read: "read"; case .write: "write"; case .cas: "cas" } }
        var json: String {
            switch self {
            case .read: "null"
            case .write(let v): String(v)
            case let .cas(a, b): "[\(a),\(b)]"
            }
        }
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
            let key = Int64(rng.next() % UInt64(spec.keys))
            let draw = rng.next() % 3
            let kind = role == .read || clients.gate.writesHeld ? 0 : role == .write ? 1 + draw % 2 : draw
            let op: Op = switch kind {
            case 0: .read
            case 1: .write(Int64(rng.next() % Self.values))
            default: .cas(Int64(rng.next() % Self.values), Int64(rng.next() % Self.values))
            }
            await history.client(process: process, type: "invoke", f: op.f, value: op.json, key: key)
            var sent = false
            do {
                let c: Connection
                if let existing = connection { c = existing } else {
                    c = try await client.open(AppendWorkload.database)
                    connection = c
                }
                switch op {
                case .read:
                    let v = try await Self.read(key, on: c)
                    await history.client(process: process, type: "ok", f: "read", value: v.map(String.init) ?? "null", key: key)
                    await stats.record("ok")
                case .write(let v):
                    sent = true
                    _ = try await c.exec("INSERT INTO registers (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                                         [.integer(key), .integer(v)])
                    await history.client(process: process, type: "ok", f: "write", value: op.json, key: key)
                    await stats.record("ok")
                case let .cas(expected, new):
                    sent = true
                    let r = try await c.exec("UPDATE registers SET v = ? WHERE k = ? AND v = ?", [.integer(new), .integer(key), .integer(expected)])
                    // No row matched: the compare failed, certainly nothing changed.
                    let type = r.rowsAffected == 1 ? "ok" : "fail"
                    await history.client(process: process, type: type, f: "cas", value: op.json, key: key)
                    await stats.record(type)
                }
            } catch {
                await connection?.close()
                connection = nil
                let (type, message) = outcome(of: error, wrote: sent)
                await history.client(process: process, type: type, f: op.f, value: op.json, key: key, error: message)
                await stats.record(type)
                if type == "info" { process += spec.concurrency }
            }
        }
        await connection?.close()
    }

    static func read(_ key: Int64, on c: Connection) async throws -> Int64? {
        let rows = try await c.queryAll("SELECT v FROM registers WHERE k = ?", [.integer(key)]).rows
        if let first = rows.first, case .integer(let v) = first.first { return v }
        return nil
    }

    /// One read per key, in turn, by the same process.
    func finalRead(process: Int) async -> WorkloadState? {
        do {
            let c = try await clients.shared.open(AppendWorkload.database)
            defer { Task { await c.close() } }
            var state: WorkloadState = [:]
            for key in 0..<Int64(spec.keys) {
                await history.client(process: process, type: "invoke", f: "read", value: "null", key: key)
                do {
                    let v = try await Self.read(key, on: c)
                    await history.client(process: process, type: "ok", f: "read", value: v.map(String.init) ?? "null", key: key)
                    if let v { state[key] = [v] }
                } catch {
                    await history.client(process: process, type: "fail", f: "read", value: "null", key: key, error: "\(error)")
                    return nil
                }
            }
            return state
        } catch {
            return nil
        }
    }

    func state(ofDump path: String) throws -> WorkloadState {
        var out: WorkloadState = [:]
        for row in try readDump(path, "SELECT k, v FROM registers", columns: 2) {
            if let k = row[0], let v = row[1] { out[k] = [v] }
        }
        return out
    }

    /// A register's acknowledged write may be overwritten later: what a node must hold is what the leader's
    /// final reads saw (convergence), and whether those reads are possible is the linearizability check's.
    func missing(from state: WorkloadState) async -> [String] { [] }

    func acknowledgedSummary() async -> String { "nothing to count: registers are overwritten (convergence and the linearizability check cover them)" }
}
