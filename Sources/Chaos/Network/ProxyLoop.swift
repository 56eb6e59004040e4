import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The link proxies' one thread: poll(2) over the listeners and every proxied connection. Each direction of a
/// connection is a queue of chunks with release times (now + delay ± jitter, never before the chunk ahead of
/// it, so the stream stays in order); a loss fault cuts the connection (RST both ends) instead of losing bytes.
/// All connection state lives on this thread; only the fault table is shared (through LinkProxies' lock).
struct ProxyLoop: Sendable {
    let owner: LinkProxies
    let listeners: [Int32: LinkProxies.Link]
    let namespaceFDs: [Int32]
    let wake: Int32

    /// Bytes queued in one direction before the proxy stops reading its source (back pressure, as TCP's window).
    static let queueLimit = 1 << 20

    private final class Direction {
        let src: Int32, dst: Int32
        var queue: [(due: ContinuousClock.Instant, bytes: [UInt8])] = []
        var offset = 0, queued = 0
        var eof = false, shut = false, blocked = false
        var lastDue = ContinuousClock.now
        init(src: Int32, dst: Int32) { self.src = src; self.dst = dst }
    }

    private final class Connection {
        let link: LinkProxies.Link
        let client: Int32, server: Int32
        var connecting = true, closed = false
        let up: Direction, down: Direction
        init(link: LinkProxies.Link, client: Int32, server: Int32) {
            self.link = link
            self.client = client
            self.server = server
            up = Direction(src: client, dst: server)
            down = Direction(src: server, dst: client)
        }
    }

    func run() {
        var connections: [Connection] = []
        var rng = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let listenerFDs = Array(listeners.keys)
        while !owner.isStopping {
            var pfds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            pfds += listenerFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let now = ContinuousClock.now
            var next = now + .seconds(1)
            for c in connections {
                if c.connecting {
                    pfds.append(pollfd(fd: c.server, events: Int16(POLLOUT), revents: 0))
                    pfds.append(pollfd(fd: c.client, events: 0, revents: 0))
                    continue
                }
                pfds.append(pollfd(fd: c.client, events: events(read: c.up, write: c.down), revents: 0))
                pfds.append(pollfd(fd: c.server, events: events(read: c.down, write: c.up), revents: 0))
                for d in [c.up, c.down] where !d.blocked { if let head = d.queue.first { next = min(next, head.due) } }
            }
            let wait = next - now
            let waitMs: Int64 = wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000
            let ms = Int32(max(0, min(1000, waitMs)))
            _ = poll(&pfds, nfds_t(pfds.count), ms)
            if pfds[0].revents != 0 { while read(wake, &buffer, buffer.count) > 0 {} }
            for (i, fd) in listenerFDs.enumerated() where pfds[1 + i].revents & Int16(POLLIN) != 0 {
                if let c = accept(fd, listeners[fd]!, &rng) { connections.append(c) }
            }
            var slot = 1 + listenerFDs.count
            for c in connections {
                // Connections accepted this turn have no poll entries yet.
                guard slot + 1 < pfds.count, pfds[slot].fd == (c.connecting ? c.server : c.client) else { continue }
                let (a, b) = (pfds[slot].revents, pfds[slot + 1].revents)
                slot += 2
                if c.connecting {
                    guard a != 0 else { continue }
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err != 0 { close(c, reset: false) } else { c.connecting = false }
                    continue
                }
                let (clientEvents, serverEvents) = (a, b)
                if clientEvents & Int16(POLLOUT) != 0 { c.down.blocked = false }
                if serverEvents & Int16(POLLOUT) != 0 { c.up.blocked = false }
                if clientEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { pump(c, c.up, &buffer, &rng) }
                if !c.closed, serverEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { pump(c, c.down, &buffer, &rng) }
            }
            for c in connections where !c.closed && !c.connecting {
                flush(c, c.up)
                if !c.closed { flush(c, c.down) }
                if c.up.shut && c.down.shut { close(c, reset: false) }
            }
            connections.removeAll { $0.closed }
        }
        for c in connections { close(c, reset: true) }
        owner.loopEnded()
    }

    private func events(read: Direction, write: Direction) -> Int16 {
        var e: Int16 = 0
        if !read.eof && read.queued < Self.queueLimit { e |= Int16(POLLIN) }
        if write.blocked { e |= Int16(POLLOUT) }
        return e
    }

    private func lost(_ link: LinkProxies.Link, _ rng: inout SystemRandomNumberGenerator) -> Bool {
        guard let p = owner.fault(link)?.lossPct, p > 0 else { return false }
        return Double.random(in: 0..<100, using: &rng) < p
    }

    private func accept(_ listener: Int32, _ link: LinkProxies.Link, _ rng: inout SystemRandomNumberGenerator) -> Connection? {
        let client = Glibc.accept(listener, nil, nil)
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        if lost(link, &rng) { reset(client); return nil }
        guard let server = try? NamespaceSocket.tcp(in: namespaceFDs[link.from]) else { Glibc.close(client); return nil }
        var mark = LinkProxies.mark
        setsockopt(server, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<Int32>.size))
        var one: Int32 = 1
        for fd in [client, server] { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        guard NamespaceSocket.connect(server, owner.network.ip(link.to), NetnsNetwork.nodePort) else {
            Glibc.close(server); Glibc.close(client)
            return nil
        }
        return Connection(link: link, client: client, server: server)
    }

    /// Reads what `d`'s source has and queues it with its release time (or cuts the connection on a loss).
    private func pump(_ c: Connection, _ d: Direction, _ buffer: inout [UInt8], _ rng: inout SystemRandomNumberGenerator) {
        let n = Glibc.read(d.src, &buffer, buffer.count)
        if n == 0 { d.eof = true; return }
        if n < 0 { if errno != EAGAIN && errno != EINTR { close(c, reset: true) }; return }
        // Both directions of a connection belong to its link (A dialled B): replies are delayed alike.
        if lost(c.link, &rng) { close(c, reset: true); return }
        var due = ContinuousClock.now
        if let f = owner.fault(c.link), f.delayMs > 0 || f.jitterMs > 0 {
            let jitter = f.jitterMs > 0 ? Double.random(in: -f.jitterMs...f.jitterMs, using: &rng) : 0
            due = due + .microseconds(Int64(max(0, f.delayMs + jitter) * 1000))
        }
        due = max(due, d.lastDue)
        d.lastDue = due
        d.queue.append((due, Array(buffer[0..<n])))
        d.queued += n
    }

    /// Writes `d`'s chunks that are due; stops at a full socket (until POLLOUT) or a chunk not yet due.
    private func flush(_ c: Connection, _ d: Direction) {
        let now = ContinuousClock.now
        while !d.blocked, let head = d.queue.first, head.due <= now {
            let n = head.bytes.withUnsafeBytes { p in send(d.dst, p.baseAddress! + d.offset, p.count - d.offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN { d.blocked = true } else if errno != EINTR { close(c, reset: true) }
                return
            }
            d.offset += n
            if d.offset == head.bytes.count {
                d.queued -= head.bytes.count
                d.queue.removeFirst()
                d.offset = 0
            }
        }
        if d.eof && d.queue.isEmpty && !d.shut {
            shutdown(d.dst, Int32(SHUT_WR))
            d.shut = true
        }
    }

    private func close(_ c: Connection, reset: Bool) {
        guard !c.closed else { return }
        c.closed = true
        if reset { self.reset(c.client); self.reset(c.server) } else { Glibc.close(c.client); Glibc.close(c.server) }
    }

    /// Closes with an RST (linger 0), as a connection lost on the network looks to its peer.
    private func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
    }
}
