#if canImport(Glibc)
import Glibc
import CLinuxEvents
import CTLS
#elseif canImport(Darwin)
import Darwin
#endif

/// A non-blocking stream socket whose waits go through an `EventLoop`, with deadlines, and a read buffer so
/// that a frame usually costs one `recv`. Not thread-safe: `WireConnection` lets one task use it at a time.
final class Socket {
    let fd: Int32
    let loop: EventLoop
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    /// The TLS session on `fd`, when the connection is secured (`secure(with:deadline:)`).
    private var tls: OpaquePointer?

    private init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        buffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    deinit {
        dq_tls_stream_free(tls)
        close(fd)
    }

    /// Runs a TLS handshake as a client on the connected socket; from then on every byte goes through it.
    func secure(with context: TLSContext, deadline: ContinuousClock.Instant) async throws(SocketError) {
        guard let stream = dq_tls_stream_client(context.raw, fd) else { throw .tls("cannot create a TLS session") }
        tls = stream
        while true {
            let rc = dq_tls_stream_handshake(stream)
            if rc == 0 { return }
            try await waitFor(Int(rc), deadline: deadline)
        }
    }

    /// Waits as a TLS call asked (`DQ_TLS_WANT_*`), or throws its failure.
    private func waitFor(_ rc: Int, deadline: ContinuousClock.Instant) async throws(SocketError) {
        switch rc {
        case Int(DQ_TLS_WANT_READ): try await loop.wait(fd: fd, for: EPOLLIN.rawValue, deadline: deadline)
        case Int(DQ_TLS_WANT_WRITE): try await loop.wait(fd: fd, for: EPOLLOUT.rawValue, deadline: deadline)
        default: throw .tls(String(cString: dq_tls_stream_error(tls)))
        }
    }

    /// Connects to `address` before `deadline`; every resolved address is tried in turn.
    static func connect(to address: NodeAddress, deadline: ContinuousClock.Instant, loop: EventLoop) async throws(SocketError) -> Socket {
        switch address {
        case let .tcp(host, port):
            var lastError = SocketError.resolve("no address for \(host)")
            for (family, storage, length) in try resolve(host: host, port: port) {
                let started = withUnsafeBytes(of: storage) { raw in
                    startConnect(family: family, address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length: length)
                }
                do {
                    let s = try await finishConnect(started, deadline: deadline, loop: loop)
                    var one: Int32 = 1
                    setsockopt(s.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return s
                } catch {
                    lastError = error
                }
            }
            throw lastError
        case .unix(let path):
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
            guard bytes.count < MemoryLayout.size(ofValue: sun.sun_path) else { throw .resolve("unix socket path too long") }
            withUnsafeMutableBytes(of: &sun.sun_path) { dst in
                for (i, b) in bytes.enumerated() { dst[i] = b }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
            let started = withUnsafePointer(to: &sun) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { startConnect(family: AF_UNIX, address: $0, length: length) }
            }
            return try await finishConnect(started, deadline: deadline, loop: loop)
        }
    }

    /// The addresses of `host` (numeric hosts resolve without any lookup).
    private static func resolve(host: String, port: UInt16) throws(SocketError) -> [(Int32, sockaddr_storage, socklen_t)] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else { throw .resolve(String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var out: [(Int32, sockaddr_storage, socklen_t)] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let ai = entry {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen)))
            }
            out.append((ai.pointee.ai_family, storage, ai.pointee.ai_addrlen))
            entry = ai.pointee.ai_next
        }
        return out
    }

    /// Creates a non-blocking socket and starts connecting: the fd and whether the connect is still in progress.
    private static func startConnect(family: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) -> Result<(Int32, Bool), SocketError> {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(.system("socket", errno)) }
        if Glibc.connect(fd, address, length) == 0 { return .success((fd, false)) }
        let e = errno
        guard e == EINPROGRESS else {
            close(fd)
            return .failure(.system("connect", e))
        }
        return .success((fd, true))
    }

    private static func finishConnect(_ started: Result<(Int32, Bool), SocketError>, deadline: ContinuousClock.Instant,
                                      loop: EventLoop) async throws(SocketError) -> Socket {
        let (fd, inProgress) = try started.get()
        let s = Socket(fd: fd, loop: loop)
        if inProgress {
            try await loop.wait(fd: fd, for: EPOLLOUT.rawValue, deadline: deadline)
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { throw .system("connect", err) }
        }
        return s
    }

    /// Writes every byte or throws.
    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) async throws(SocketError) {
        var sent = 0
        if let tls {
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { dq_tls_stream_write(tls, $0.baseAddress! + sent, bytes.count - sent) }
                if n > 0 { sent += n } else { try await waitFor(n, deadline: deadline) }
            }
            return
        }
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try await loop.wait(fd: fd, for: EPOLLOUT.rawValue, deadline: deadline)
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw .system("send", errno)
            }
        }
    }

    /// Reads exactly `count` bytes, from the buffer first. `replyDue` says a request was just sent: its reply
    /// cannot be there yet, so the socket is awaited before the first `recv` rather than after a failed one.
    func receive(exactly count: Int, deadline: ContinuousClock.Instant, replyDue: Bool = false) async throws(SocketError) -> [UInt8] {
        if end - start >= count {
            defer { start += count }
            return Array(buffer[start..<(start + count)])
        }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var waitFirst = replyDue
        while out.count < count {
            if start == end {
                try await fill(deadline: deadline, waitFirst: waitFirst)
                waitFirst = false
            }
            let take = min(count - out.count, end - start)
            out.append(contentsOf: buffer[start..<(start + take)])
            start += take
        }
        return out
    }

    private func fill(deadline: ContinuousClock.Instant, waitFirst: Bool) async throws(SocketError) {
        start = 0
        end = 0
        if let tls {
            if waitFirst && dq_tls_stream_pending(tls) == 0 { try await loop.wait(fd: fd, for: EPOLLIN.rawValue, deadline: deadline) }
            while true {
                let n = buffer.withUnsafeMutableBytes { dq_tls_stream_read(tls, $0.baseAddress!, $0.count) }
                if n > 0 {
                    end = n
                    return
                }
                if n == 0 { throw .closedByPeer }
                try await waitFor(n, deadline: deadline)
            }
        }
        if waitFirst { try await loop.wait(fd: fd, for: EPOLLIN.rawValue, deadline: deadline) }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                end = n
                return
            }
            if n == 0 { throw .closedByPeer }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                try await loop.wait(fd: fd, for: EPOLLIN.rawValue, deadline: deadline)
            } else if errno != EINTR {
                throw .system("recv", errno)
            }
        }
    }

    /// Whether the server has closed its end while no reply was due: the socket is readable but holds nothing
    /// buffered here. A request would then never reach the server, so callers can tell "not sent" apart.
    func peerHasClosed() -> Bool {
        guard start == end else { return false }
        if let tls, dq_tls_stream_pending(tls) > 0 { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & (Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) == 0
    }

    /// Wakes any task waiting on this socket (epoll reports the hang-up); the descriptor is closed by deinit.
    func shutdownBoth() { shutdown(fd, Int32(SHUT_RDWR)) }
}

enum SocketError: Error, CustomStringConvertible {
    case resolve(String)
    case system(String, Int32)
    case timeout
    case closedByPeer
    case tls(String)

    var description: String {
        switch self {
        case .resolve(let m): "cannot resolve address: \(m)"
        case let .system(call, code): "\(call): \(String(cString: strerror(code)))"
        case .timeout: "timed out"
        case .closedByPeer: "connection closed by the server"
        case .tls(let m): "TLS: \(m)"
        }
    }
}
