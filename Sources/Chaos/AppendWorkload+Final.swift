import DqliteClient

/// The list-append workload's final phase: every key ever used read in one transaction through the leader.
extension AppendWorkload: ChaosWorkload {
    var model: String { "list-append" }
    var schema: [String] { [Self.schema] }

    func finalRead(process: Int) async -> WorkloadState? {
        let used = await keys.used.sorted()
        guard !used.isEmpty else { return [:] }
        let reads = used.map { MicroOp.read(key: $0, result: nil) }
        await history.client(process: process, type: "invoke", f: "txn", value: Self.json(reads))
        do {
            let c = try await clients.shared.open(Self.database)
            defer { Task { await c.close() } }
            var lists: WorkloadState = [:]
            var done: [MicroOp] = []
            for k in used {
                let rows = try await c.queryAll("SELECT v FROM appends WHERE k = ? ORDER BY id", [.integer(k)]).rows
                let list = rows.compactMap { if case .integer(let v) = $0.first { v } else { nil } }
                if !list.isEmpty { lists[k] = list }
                done.append(.read(key: k, result: list))
            }
            await history.client(process: process, type: "ok", f: "txn", value: Self.json(done))
            return lists
        } catch {
            await history.client(process: process, type: "fail", f: "txn", value: Self.json(reads), error: "\(error)")
            return nil
        }
    }

    func state(ofDump path: String) throws -> WorkloadState {
        var out: WorkloadState = [:]
        for row in try readDump(path, "SELECT k, v FROM appends ORDER BY id", columns: 2) {
            if let k = row[0], let v = row[1] { out[k, default: []].append(v) }
        }
        return out
    }

    func missing(from state: WorkloadState) async -> [String] {
        var out: [String] = []
        for (k, elements) in await stats.acknowledged.sorted(by: { $0.key < $1.key }) {
            let lacking = elements.subtracting(state[k] ?? [])
            if !lacking.isEmpty { out.append("lacks acknowledged appends \(lacking.sorted().prefix(5)) of key \(k)") }
        }
        return out
    }

    func acknowledgedSummary() async -> String {
        "all \(await stats.acknowledged.values.reduce(0) { $0 + $1.count }) acknowledged appends are on every node"
    }
}
