#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CUV
import Logging

/// Failover in a fraction of the election timeout when the leader's process dies. A C-Raft follower only
/// notices a dead leader when its election timer fires, 1-2 election timeouts after the last heartbeat, and
/// a split vote costs another. But when a process dies its host closes its sockets at once, and then
/// refuses connections to its port. So each voter following a leader keeps one idle connection to the
/// leader's address (a client that has not asked anything yet, which a node keeps open). When that
/// connection ends, the voter dials again: if the leader's host refuses, nothing listens there any more, the
/// leader is gone, and the voter forgets it (so that it grants votes at once, rather than refusing them while
/// it still believes in a leader) and stands for election one step (two heartbeats) after the voters of
/// lower id, instead of a randomized 1-2 election timeouts later. Pre-vote (on) keeps a voter that was wrong
/// from disrupting a live leader.
///
/// Promises made for read leases are kept: a voter that told a leader it would refuse votes until some time
/// (its answer to a term probe, `ReadLease`) neither forgets its leader nor stands for election before then.
/// A leader that is paused, cut off by a partition or on a host that died keeps its port (or sends nothing
/// back): those cases take the election timeout, as before. Loop thread only.
final class LeaderWatch {
    private unowned let engine: RaftEngine
    private lazy var timer = LoopTimer(loop: engine.loop.loop) { [unowned self] in tick() }
    private let heartbeatMs: UInt64
    private let electionTimeoutMs: UInt64
    /// Until when (C-Raft's clock) this voter promised, in answers to term probes, to refuse votes.
    private(set) var promisedUntil: UInt64 = 0
    private var watched: (id: UInt64, address: String, term: UInt64, socket: WatchSocket)?
    /// A leader found gone while a promise still ran: forgotten once it is over.
    private var pending: (id: UInt64, term: UInt64)?
    /// No new watch before this time (after a dial that failed other than by a refusal).
    private var quietUntil: UInt64 = 0
    private var closed = false

    init(engine: RaftEngine, heartbeatMs: UInt32, electionTimeoutMs: UInt32) {
        self.engine = engine
        self.heartbeatMs = UInt64(heartbeatMs)
        self.electionTimeoutMs = UInt64(electionTimeoutMs)
        tick(in: self.heartbeatMs)
    }

    /// Ticks every heartbeat, the next one in `delay` ms.
    private func tick(in delay: UInt64) {
        timer.start(afterMs: delay, periodMs: heartbeatMs)
    }

    private var now: UInt64 { uv_now(engine.loop.loop) }

    /// This voter promised a leader to refuse votes until `until` (C-Raft's clock).
    func notePromise(until: UInt64) { promisedUntil = max(promisedUntil, until) }

    /// Stops watching.
    func close() {
        guard !closed else { return }
        closed = true
        dropWatch()
        timer.close()
    }

    private func tick() {
        guard !closed else { return }
        guard engine.initialised, !engine.stopping else { return dropWatch() }
        if let p = pending {
            if !stillFollows(p.id, term: p.term) {
                pending = nil
            } else if now >= promisedUntil {
                pending = nil
                forget(p.id, term: p.term)
            } else {
                return dropWatch()  // known gone: the promise runs out first
            }
        }
        guard let leader = followedLeader() else { return dropWatch() }
        if let w = watched {
            guard w.id != leader.id || w.address != leader.address || w.term != engine.term else {
                // A dial that hangs (a host that does not answer) is given up after an election timeout.
                if !w.socket.connected && now - w.socket.startedAt > electionTimeoutMs {
                    dropWatch()
                    quietUntil = now + electionTimeoutMs
                }
                return
            }
            dropWatch()
        }
        if now >= quietUntil { watch(id: leader.id, address: leader.address, term: engine.term) }
    }

    /// The leader this node follows as a voter, if any.
    private func followedLeader() -> (id: UInt64, address: String)? {
        guard raft_state(engine.raft) == Int32(RAFT_FOLLOWER), let leader = engine.leader, leader.id != engine.id,
              engine.configuration.contains(where: { $0.id == engine.id && $0.role == .voter }) else { return nil }
        return leader
    }

    private func watch(id: UInt64, address: String, term: UInt64) {
        guard let target = SocketAddress(address) else { return }
        let socket = WatchSocket(loop: engine.loop.loop, startedAt: now)
        watched = (id, address, term, socket)
        socket.onEvent = { [unowned self, unowned socket] event in self.heard(event, on: socket) }
        socket.start(target)
    }

    private func dropWatch() {
        watched?.socket.close()
        watched = nil
    }

    private func heard(_ event: WatchSocket.Event, on socket: WatchSocket) {
        guard let w = watched, w.socket === socket else { return socket.close() }
        switch event {
        case .connected:
            engine.logger.debug("watching leader \(w.id) at \(w.address) (term \(w.term))")
        case .refused:
            dropWatch()
            leaderGone(w.id, term: w.term)
        case .failed:
            dropWatch()
            quietUntil = now + electionTimeoutMs
        case .closed:
            // The leader closed the connection or died: a new dial tells which. A connection that is closed
            // at once, again and again (a node stopping), is not redialled in a loop.
            let lived = now - socket.startedAt
            dropWatch()
            if lived >= heartbeatMs { watch(id: w.id, address: w.address, term: w.term) } else { quietUntil = now + heartbeatMs }
        }
    }

    /// Nothing listens at the address of leader `id` of `term`.
    private func leaderGone(_ id: UInt64, term: UInt64) {
        guard stillFollows(id, term: term) else { return }
        if now >= promisedUntil {
            engine.logger.info("leader \(id) refuses connections: its process is gone; electing a new one now")
            forget(id, term: term)
        } else {
            engine.logger.info("leader \(id) refuses connections: its process is gone; electing a new one in \(promisedUntil - now) ms, when this node's promise for a read lease runs out")
            pending = (id, term)
            tick(in: promisedUntil - now)  // forgotten as soon as the promise runs out, for the voters' turns
        }
    }

    private func stillFollows(_ id: UInt64, term: UInt64) -> Bool {
        let r = engine.raft.pointee
        return !closed && engine.initialised && !engine.stopping && r.state == UInt16(RAFT_FOLLOWER)
            && r.follower_state.current_leader.id == id && r.current_term == term
    }

    /// Forgets leader `id` (C-Raft's state for a follower that knows no leader: it then grants votes) and
    /// brings this voter's election forward to its turn. A heartbeat from a leader after all (the refusal was
    /// not its death) puts both back: C-Raft records the leader and restarts the timer.
    private func forget(_ id: UInt64, term: UInt64) {
        guard stillFollows(id, term: term), !engine.catchingUp else { return }
        let voters = engine.configuration.filter { $0.role == .voter }.map(\.id)
        let rank = LeaderLoss.rank(of: engine.id, voters: voters, leader: id)
        guard rank >= 0 else { return }
        let raft = engine.raft
        // Only the id: C-Raft grants votes when it is 0. The address stays, because an append from the old
        // leader may still be on its way to disk, and its callback answers `current_leader` while this node
        // is still a follower: with a NULL address C-Raft's uv_send called strlen(NULL) and the node
        // crashed (found by the bed: partitions-5-nodes, seed 1). That answer now goes to the dead address.
        raft.pointee.follower_state.current_leader.id = 0
        let timeout = LeaderLoss.electionTimeout(
            now: raft.pointee.io.pointee.time!(raft.pointee.io), timerStart: raft.pointee.election_timer_start,
            current: raft.pointee.follower_state.randomized_election_timeout, promisedUntil: promisedUntil,
            rank: rank, stepMs: 2 * heartbeatMs)
        raft.pointee.follower_state.randomized_election_timeout = timeout
        engine.logger.debug("forgot leader \(id) of term \(term); election timer now fires \(timeout) ms after its start (rank \(rank))")
    }
}

/// One TCP connection of a `LeaderWatch`: it dials, then reads only to see the connection end. Keeps itself
/// alive until libuv has closed its handle.
private final class WatchSocket {
    enum Event { case connected, refused, failed, closed }

    let startedAt: UInt64
    private(set) var connected = false
    var onEvent: ((Event) -> Void)?
    private let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private let connectRequest = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    private var keepAlive: Unmanaged<WatchSocket>?
    private var closing = false

    init(loop: UnsafeMutablePointer<uv_loop_t>, startedAt: UInt64) {
        self.startedAt = startedAt
        uv_tcp_init(loop, tcp)
        keepAlive = Unmanaged.passRetained(self)
        tcp.pointee.data = keepAlive!.toOpaque()
        connectRequest.pointee.data = keepAlive!.toOpaque()
    }

    deinit {
        tcp.deallocate()
        connectRequest.deallocate()
        buffer.deallocate()
    }

    private static func from(_ p: UnsafeMutableRawPointer?) -> WatchSocket { Unmanaged.fromOpaque(p!).takeUnretainedValue() }

    func start(_ target: SocketAddress) {
        let rc = target.withSockaddr { sa in
            uv_tcp_connect(connectRequest, tcp, sa) { req, status in
                WatchSocket.from(req!.pointee.data).dialled(status)
            }
        }
        if rc != 0 { report(.failed) }
    }

    private func dialled(_ status: Int32) {
        guard !closing else { return }
        if status == UV_ECONNREFUSED.rawValue { return report(.refused) }
        guard status == 0 else { return report(.failed) }
        connected = true
        let rc = uv_read_start(stream, { h, _, buf in
            let me = WatchSocket.from(h!.pointee.data)
            buf!.pointee = uv_buf_init(me.buffer.assumingMemoryBound(to: CChar.self), 64)
        }, { s, nread, _ in
            // A node sends nothing to a client that asked nothing; any bytes are ignored, an end is reported.
            if nread < 0 { WatchSocket.from(s!.pointee.data).report(.closed) }
        })
        report(rc == 0 ? .connected : .closed)
    }

    private func report(_ event: Event) {
        guard !closing else { return }
        onEvent?(event)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }

    /// Closes the connection (a pending dial ends with UV_ECANCELED, which is ignored). Idempotent.
    func close() {
        guard !closing else { return }
        closing = true
        onEvent = nil
        uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { h in
            let me = WatchSocket.from(h!.pointee.data)
            let last = me.keepAlive
            me.keepAlive = nil
            last?.release()
        }
    }
}
