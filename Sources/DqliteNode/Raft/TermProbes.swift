import DqliteClient
import DqliteWire
import Synchronization

/// Leadership confirmation for linearizable reads without a log entry: Raft's ReadIndex (thesis §6.4) with
/// a term probe in place of the heartbeat round. After a read arrives, the leader of term T asks every
/// other voter for its current term (HEARTBEAT → WELCOME carrying it, node to node). A voter that answers
/// T or less had not voted in any later term when it answered, which was after the read arrived. Once
/// those voters and the leader make a majority, any leader of a later term is elected after the read
/// arrived (its majority needs one of them), so serving the read from the leader's applied state, as long
/// as it still leads term T, is linearizable. A barrier did the same through an fsynced log entry.
final class TermProbes: Sendable {
    /// One connection per peer and round slot: a connection carries one request at a time, and up to
    /// `slots` rounds run at once.
    private let clients = Mutex<[String: NodeClient]>([:])
    static let slots = 4
    private let config: ClientConfig

    init(timeout: Duration) {
        var c = ClientConfig()
        c.dialTimeout = timeout
        c.requestTimeout = timeout
        config = c
    }

    /// Whether at least `needed` of `peers` report a term of at most `term`; each is asked after the call.
    /// `slot` (below `slots`) picks the connections: no two rounds at once may share one.
    func confirm(term: UInt64, peers: [String], needed: Int, slot: Int) async -> Bool {
        guard needed > 0 else { return true }
        guard peers.count >= needed else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            for p in peers { group.addTask { await self.ask(p, slot: slot, term: term) } }
            var yes = 0, answered = 0
            for await ok in group {
                answered += 1
                if ok { yes += 1 }
                if yes >= needed || yes + (peers.count - answered) < needed {
                    group.cancelAll()
                    return yes >= needed
                }
            }
            return false
        }
    }

    private func ask(_ address: String, slot: Int, term: UInt64) async -> Bool {
        let key = "\(slot)|\(address)"
        var client = clients.withLock { $0[key] }
        if client == nil {
            guard let fresh = try? await NodeClient.connect(to: address, config: config) else { return false }
            clients.withLock { $0[key] = fresh }
            client = fresh
        }
        guard let client else { return false }
        do {
            guard case .welcome(let theirs) = try await client.connection.call(.heartbeat(timestamp: term), timeout: config.requestTimeout) else {
                drop(key, client)
                return false
            }
            return theirs <= term
        } catch {
            drop(key, client)
            return false
        }
    }

    private func drop(_ key: String, _ client: NodeClient) {
        clients.withLock { if $0[key] === client { $0[key] = nil } }
        client.close()
    }

    func close() {
        let all = clients.withLock { c in defer { c.removeAll() }; return Array(c.values) }
        for c in all { c.close() }
    }
}
