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
/// The answer (METADATA) also says how long the voter will still refuse votes, for the leader's `ReadLease`.
final class TermProbes: Sendable {
    /// One connection per peer and round slot: a connection carries one request at a time, and up to
    /// `slots` rounds run at once.
    private let clients = Mutex<[String: NodeClient]>([:])
    /// Slot and peer pairs whose ask is still running (a round that ended without its answer).
    private let busy = Mutex<Set<String>>([])
    static let slots = 4
    private let config: ClientConfig

    init(timeout: Duration, tls: TLSContext? = nil) {
        var c = ClientConfig()
        c.tls = tls
        c.dialTimeout = timeout
        c.requestTimeout = timeout
        config = c
    }

    /// What a round heard: whether at least `needed` voters reported a term of at most the leader's, and for
    /// how long (ms) those answers keep enough of them from voting to make a majority (`ReadLease`).
    struct Outcome: Sendable {
        var confirmed: Bool
        var leaseMs: UInt64
        /// The voters whose answers confirmed, with their clock readings (`ClockAgreement`); nil: the voter
        /// predates clock readings.
        var counted: [(voter: String, sample: ClockAgreement.Sample?)] = []
    }

    /// Asks each of `peers`, after the call, for its term and how long it will still refuse votes.
    /// `slot` (below `slots`) picks the connections: no two rounds at once may share one.
    func confirm(term: UInt64, peers: [String], needed: Int, slot: Int) async -> Outcome {
        guard needed > 0 else { return Outcome(confirmed: true, leaseMs: 0) }
        guard peers.count >= needed else { return Outcome(confirmed: false, leaseMs: 0) }
        // The round ends as soon as it is decided. A voter cut off by a partition answers nothing until the
        // dial or request times out (an election timeout): a task group would wait for it, so every round
        // took that long and reads (and the write lock of the transactions holding them) stalled for as long
        // as one voter was unreachable. Its ask finishes on its own; until it has, later rounds of this slot
        // count that voter as silent rather than share its connection.
        let (answers, sink) = AsyncStream<Answer>.makeStream()
        for p in peers {
            let key = "\(slot)|\(p)"
            guard busy.withLock({ $0.insert(key).inserted }) else {
                sink.yield(.no)
                continue
            }
            Task {
                let answer = await self.ask(p, slot: slot, term: term)
                self.busy.withLock { _ = $0.remove(key) }
                sink.yield(answer)
            }
        }
        var promises: [UInt64] = [], answered = 0
        var counted: [(voter: String, sample: ClockAgreement.Sample?)] = []
        for await answer in answers {
            answered += 1
            if answer.ok {
                promises.append(answer.stickyMs)
                counted.append((answer.voter, answer.sample))
            }
            let yes = promises.count
            if yes >= needed || yes + (peers.count - answered) < needed { break }
        }
        sink.finish()
        return Outcome(confirmed: promises.count >= needed, leaseMs: ReadLease.duration(promises: promises, needed: needed),
                       counted: counted)
    }

    private struct Answer: Sendable {
        var ok: Bool
        var stickyMs: UInt64
        var voter = ""
        var sample: ClockAgreement.Sample?
        static let no = Answer(ok: false, stickyMs: 0)
    }

    private func ask(_ address: String, slot: Int, term: UInt64) async -> Answer {
        let key = "\(slot)|\(address)"
        var client = clients.withLock { $0[key] }
        if client == nil {
            guard let fresh = try? await NodeClient.connect(to: address, config: config) else { return .no }
            clients.withLock { $0[key] = fresh }
            client = fresh
        }
        guard let client else { return .no }
        do {
            let sent = ReadLease.now()
            switch try await client.connection.call(.heartbeat(timestamp: term), timeout: config.requestTimeout) {
            case .termProbe(let theirs, let sticky, let clock):
                let sample = ClockAgreement.Sample(sentNs: sent, receivedNs: ReadLease.now(), voterMs: clock)
                return Answer(ok: theirs <= term, stickyMs: sticky, voter: address, sample: sample)
            case .metadata(let theirs, let sticky):
                return Answer(ok: theirs <= term, stickyMs: sticky, voter: address)  // a node that predates clock readings
            case .welcome(let theirs):
                return Answer(ok: theirs <= term, stickyMs: 0, voter: address)  // a node that predates leases
            default:
                drop(key, client)
                return .no
            }
        } catch {
            drop(key, client)
            return .no
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
