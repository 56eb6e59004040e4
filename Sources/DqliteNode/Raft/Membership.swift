import Logging
import CRaft
import DqliteWire

/// A configuration change, in dqlite's terms.
enum MembershipChange {
    case add(UInt64, String)
    case assign(UInt64, NodeRole)
    case remove(UInt64)
}

/// Membership, leadership transfer and the configuration, on the loop thread.
extension RaftEngine {
    /// The configuration as this node knows it, with dqlite's role codes.
    var configuration: [(id: UInt64, address: String, role: NodeRole)] {
        let conf = raft.pointee.configuration
        return (0..<Int(conf.n)).map { i in
            let s = conf.servers[i]
            return (s.id, String(cString: s.address), Self.dqliteRole(s.role))
        }
    }

    static func dqliteRole(_ raftRole: Int32) -> NodeRole {
        switch raftRole {
        case Int32(RAFT_VOTER): .voter
        case Int32(RAFT_STANDBY): .standBy
        default: .spare
        }
    }

    static func raftRole(_ role: NodeRole) -> Int32 {
        switch role {
        case .voter: Int32(RAFT_VOTER)
        case .standBy: Int32(RAFT_STANDBY)
        case .spare: Int32(RAFT_SPARE)
        }
    }

    static func error(_ rc: Int32) -> NodeError {
        switch rc {
        case RAFT_NOTLEADER: .notLeader
        case RAFT_LEADERSHIPLOST: .leadershipLost
        case RAFT_CANTCHANGE: .sqlite(5, "configuration change already in progress")
        case RAFT_BUSY: .sqlite(5, "busy")
        default: .raft(rc, String(cString: raft_strerror(rc)))
        }
    }

    /// Starts a configuration change; `completion(nil)` once it commits (C-Raft's callback).
    func change(_ change: MembershipChange, completion: @escaping (NodeError?) -> Void) {
        let req = UnsafeMutablePointer<raft_change>.allocate(capacity: 1)
        req.initialize(to: raft_change())
        req.pointee.data = Unmanaged.passRetained(Callback(self, completion)).toOpaque()
        let cb: raft_change_cb = { req, status in
            let c = Unmanaged<Callback>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            c.done(status == 0 ? nil : RaftEngine.error(status))
        }
        logger.info("configuration change: \(change)")
        let rc: Int32 = switch change {
        case let .add(id, address): raft_add(raft, req, id, address, cb)
        case let .assign(id, role): raft_assign(raft, req, id, Self.raftRole(role), cb)
        case .remove(let id): raft_remove(raft, req, id, cb)
        }
        if rc != 0 {
            Unmanaged<Callback>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            completion(Self.error(rc))
        }
    }

    /// Transfers leadership to `id` (0: Raft picks a voter). Fails when this node still leads afterwards.
    func transfer(to id: UInt64, completion: @escaping (NodeError?) -> Void) {
        readConfirmation?.revokeLease()  // the target will be elected without waiting for anyone's timer
        let req = UnsafeMutablePointer<raft_transfer>.allocate(capacity: 1)
        req.initialize(to: raft_transfer())
        req.pointee.data = Unmanaged.passRetained(Callback(self, completion)).toOpaque()
        let rc = raft_transfer(raft, req, id) { req in
            let c = Unmanaged<Callback>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            c.done(c.engine.isRaftLeader ? .invalid("leadership transfer failed") : nil)
        }
        if rc != 0 {
            Unmanaged<Callback>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            completion(Self.error(rc))
        }
    }
}

extension RaftEngine {
    /// A new leader may not have applied every committed entry yet; C dqlite then waits for a barrier before
    /// serving SQL, so no read or write runs on a stale state (reference/dqlite.md §2.8).
    ///
    /// Once a barrier issued in the current term has been applied, every entry of earlier terms has been
    /// applied too; entries in flight after it are this leader's own writes, which readers must not see
    /// anyway. So one barrier per term suffices (checking `last_applied < last_index` instead would put a
    /// barrier in front of every read while writes replicate).
    func barrierIfNeeded(_ then: @escaping (NodeError?) -> Void) {
        let term = raft.pointee.current_term
        guard confirmedTerm != term, raft_last_applied(raft) < raft_last_index(raft) else { return then(nil) }
        barrier { [self] error in
            if error == nil && isLeader {
                if confirmedTerm < term { logger.info("leading in term \(term)") }
                confirmedTerm = max(confirmedTerm, term)
            }
            then(error)
        }
    }

    /// Appends a barrier entry; `then` runs once it is applied here.
    func barrier(_ then: @escaping (NodeError?) -> Void) {
        guard !stopping else { return then(.notLeader) }
        let req = UnsafeMutablePointer<raft_barrier>.allocate(capacity: 1)
        req.initialize(to: raft_barrier())
        req.pointee.data = Unmanaged.passRetained(Callback(self, then)).toOpaque()
        inFlight += 1
        let rc = raft_barrier(raft, req) { req, status in
            let c = Unmanaged<Callback>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            c.engine.inFlight -= 1
            c.done(status == 0 ? nil : RaftEngine.error(status))
        }
        if rc != 0 {
            Unmanaged<Callback>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            inFlight -= 1
            then(Self.error(rc))
        }
    }
}

/// Confirms leadership for reads (linearizable reads). Each read waits for a confirmation that started after
/// it arrived, shared by the reads waiting then: a round of term probes to the voters (`TermProbes`, up to
/// `TermProbes.slots` rounds at once), or, when that cannot confirm (a voter unreachable, a configuration change under way,
/// no barrier applied yet in this term), a Raft barrier, which commits only through a quorum of the current
/// term. Either way a deposed leader cannot answer a read from a stale state. While a round's answers
/// hold a `ReadLease`, reads are served at once, and a round renews the lease before it runs out.
final class ReadConfirmation {
    private unowned let engine: RaftEngine
    private var waiting: [(NodeError?) -> Void] = []
    private var scheduled = false
    /// Round slots not in use.
    private var freeSlots = Array(0..<TermProbes.slots)
    private let probes: TermProbes?
    private var lease = ReadLease()
    private var renewing = false
    /// The voters' clock rates against this leader's: a lease only while they agree.
    private var clocks = ClockAgreement()
    private let checkClocks: Bool

    init(engine: RaftEngine, probes: TermProbes? = nil, checkClocks: Bool = true) {
        self.engine = engine
        self.probes = probes
        self.checkClocks = checkClocks
    }

    func confirm(_ then: @escaping (NodeError?) -> Void) {
        let now = ReadLease.now()
        if leaseCovers(now) {
            if lease.dueForRenewal(now: now) && !renewing && !freeSlots.isEmpty {
                renewing = true
                engine.loop.later { [self] in startRound() }
            }
            return then(nil)
        }
        waiting.append(then)
        guard !scheduled, !freeSlots.isEmpty else { return }
        scheduled = true
        engine.loop.later { [self] in startRound() }
    }

    private func leaseCovers(_ now: UInt64) -> Bool {
        let r = engine.raft.pointee
        return engine.isLeader && engine.confirmedTerm == r.current_term
            && lease.covers(now: now, term: r.current_term, configurationIndex: r.configuration_index,
                            changing: r.configuration_uncommitted_index != 0, transferring: r.transfer != nil)
    }

    /// Ends the lease: this node is handing leadership over.
    func revokeLease() { lease.revoke() }

    /// Whether a read lease runs now (for the metrics).
    var leaseRunning: Bool { lease.until > ReadLease.now() }

    private func startRound() {
        scheduled = false
        let batch = waiting
        waiting.removeAll()
        let renewal = renewing
        renewing = false
        guard !batch.isEmpty || renewal else { return }
        guard let probes, let plan = engine.readIndexPlan(), let slot = freeSlots.popLast() else {
            return batch.isEmpty ? () : confirmByBarrier(batch)
        }
        let box = UncheckedBox((self, batch))
        let loop = engine.loop
        let sent = ReadLease.now()
        let configuration = engine.raft.pointee.configuration_index
        Task {
            let outcome = await probes.confirm(term: plan.term, peers: plan.peers, needed: plan.needed, slot: slot)
            loop.submit {
                box.value.0.finishRound(outcome, term: plan.term, sent: sent, configuration: configuration, slot: slot, box.value.1)
            }
        }
    }

    private func finishRound(_ outcome: TermProbes.Outcome, term: UInt64, sent: UInt64, configuration: UInt64, slot: Int,
                             _ batch: [(NodeError?) -> Void]) {
        freeSlots.append(slot)
        if outcome.confirmed && engine.isLeader && engine.raft.pointee.current_term == term {
            noteClocks(outcome.counted)
            if !checkClocks || clocks.trusts(outcome.counted.map(\.voter)) {
                lease.grant(term: term, sent: sent, stickyMs: outcome.leaseMs, configurationIndex: configuration)
                engine.metrics.leaseRenewals.increment()
            }
            engine.logger.trace("read confirmed in term \(term); voters promised \(outcome.leaseMs) ms")
            for b in batch { b(nil) }
        } else if !batch.isEmpty {
            confirmByBarrier(batch)
        }
        if !waiting.isEmpty && !scheduled {
            scheduled = true
            engine.loop.later { [self] in startRound() }
        }
    }

    /// Measures the answering voters' clocks; says when one starts or stops disagreeing with this leader's.
    private func noteClocks(_ counted: [(voter: String, sample: ClockAgreement.Sample?)]) {
        for (voter, sample) in counted {
            guard let sample, let change = clocks.note(voter, sample) else { continue }
            switch (change.from, change.to) {
            case (_, .disagrees(let ratio)):
                engine.logger.warning("the clock of voter \(voter) may run at up to \(Self.format(ratio))x this leader's rate (over \(Int(ClockAgreement.bound * 100))% fast): no read lease while it does, each read is confirmed by its voters\(checkClocks ? "" : " (ignored: --unsafe-lease-any-clock)")")
            case (.disagrees, .agrees(let ratio)):
                engine.logger.info("the clock of voter \(voter) runs at up to \(Self.format(ratio))x this leader's rate again: read leases again")
            default:
                break
            }
        }
    }

    private static func format(_ ratio: Double) -> String { String(Double(Int(ratio * 1000)) / 1000) }

    private func confirmByBarrier(_ batch: [(NodeError?) -> Void]) {
        let term = engine.raft.pointee.current_term
        engine.barrier { [engine] error in
            // Applied in this term: every entry of earlier terms is applied too (see barrierIfNeeded).
            if error == nil && engine.isLeader && engine.raft.pointee.current_term == term {
                engine.confirmedTerm = max(engine.confirmedTerm, term)
            }
            for b in batch { b(error) }
        }
    }
}

/// What a round of term probes must hear: the other voters' addresses and how many of them make a majority
/// with this leader.
struct ReadIndexPlan: Sendable {
    let term: UInt64
    let peers: [String]
    let needed: Int
}

extension RaftEngine {
    /// Nil when probes cannot confirm leadership now: not leading, no barrier applied yet in this term (the
    /// entries of earlier terms might not all be applied), or a configuration change under way.
    func readIndexPlan() -> ReadIndexPlan? {
        let term = raft.pointee.current_term
        guard isLeader, confirmedTerm == term, raft.pointee.configuration_uncommitted_index == 0 else { return nil }
        let voters = configuration.filter { $0.role == .voter }
        guard voters.contains(where: { $0.id == id }) else { return nil }
        let peers = voters.filter { $0.id != id }.map(\.address)
        return ReadIndexPlan(term: term, peers: peers, needed: voters.count / 2 + 1 - 1)
    }
}

/// Carries a Swift callback (and the engine) through a C request's `data` pointer.
private final class Callback {
    let engine: RaftEngine
    let done: (NodeError?) -> Void
    init(_ engine: RaftEngine, _ done: @escaping (NodeError?) -> Void) {
        self.engine = engine
        self.done = done
    }
}
