#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking stream socket with deadlines (poll before every read and write), and a read buffer so that a
/// frame usually costs one `recv`. Not thread-safe: `WireConnection` confines it to one serial queue.
final class Socket {
    let fd: Int32
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0

    private init(fd: Int32) {
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    deinit { close(fd) }

    /// Connects to `address` before `deadline`; every resolved address is tried in turn.
    static func connect(to address: NodeAddress, deadline: ContinuousClock.Instant) throws(SocketError) -> Socket {
        switch address {
        case let .tcp(host, port):
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, let list else { throw .resolve(String(cString: gai_strerror(rc))) }
            defer { freeaddrinfo(list) }
            var lastError = SocketError.resolve("no address for \(host)")
            var entry: UnsafeMutablePointer<addrinfo>? = list
            while let ai = entry {
                do {
                    let s = try connect(family: ai.pointee.ai_family, address: ai.pointee.ai_addr,
                                        length: ai.pointee.ai_addrlen, deadline: deadline)
                    var one: Int32 = 1
                    setsockopt(s.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return s
                } catch {
                    lastError = error
                }
                entry = ai.pointee.ai_next
            }
            throw lastError
        case .unix(let path):
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
            let capacity = MemoryLayout.size(ofValue: sun.sun_path)
            guard bytes.count < capacity else { throw .resolve("unix socket path too long") }
            withUnsafeMutableBytes(of: &sun.sun_path) { dst in
                for (i, b) in bytes.enumerated() { dst[i] = b }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
            return try withUnsafePointer(to: &sun) { p throws(SocketError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SocketError) in
                    try connect(family: AF_UNIX, address: sa, length: length, deadline: deadline)
                }
            }
        }
    }

    private static func connect(family: Int32, address: UnsafePointer<sockaddr>, length: socklen_t,
                                deadline: ContinuousClock.Instant) throws(SocketError) -> Socket {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        let s = Socket(fd: fd)
        if Glibc.connect(fd, address, length) != 0 {
            guard errno == EINPROGRESS else { throw .system("connect", errno) }
            try s.wait(for: Int16(POLLOUT), deadline: deadline)
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { throw .system("connect", err) }
        }
        return s
    }

    /// Waits until the socket is ready for `events` or the deadline passes.
    private func wait(for events: Int16, deadline: ContinuousClock.Instant) throws(SocketError) {
        while true {
            let left = deadline - ContinuousClock.now
            if left <= .zero { throw .timeout }
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, ms)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw .system("poll", errno) }
        }
    }

    /// Writes every byte or throws.
    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(SocketError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try wait(for: Int16(POLLOUT), deadline: deadline)
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw .system("send", errno)
            }
        }
    }

    /// Reads exactly `count` bytes, from the buffer first.
    func receive(exactly count: Int, deadline: ContinuousClock.Instant) throws(SocketError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            if start == end {
                // Large remainders go straight into the result; small ones refill the buffer.
                try fill(deadline: deadline)
            }
            let take = min(count - out.count, end - start)
            out.append(contentsOf: buffer[start..<(start + take)])
            start += take
        }
        return out
    }

    private func fill(deadline: ContinuousClock.Instant) throws(SocketError) {
        start = 0
        end = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                end = n
                return
            }
            if n == 0 { throw .closedByPeer }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), deadline: deadline)
            } else if errno != EINTR {
                throw .system("recv", errno)
            }
        }
    }

    /// Whether the server has closed its end while no reply was due: the socket is readable but holds nothing
    /// buffered here. A request would then never reach the server, so callers can tell "not sent" apart.
    func peerHasClosed() -> Bool {
        guard start == end else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & (Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) == 0
    }

    /// Wakes any thread blocked on this socket; the descriptor is closed later, by deinit.
    func shutdownBoth() { shutdown(fd, Int32(SHUT_RDWR)) }
}

enum SocketError: Error, CustomStringConvertible {
    case resolve(String)
    case system(String, Int32)
    case timeout
    case closedByPeer

    var description: String {
        switch self {
        case .resolve(let m): "cannot resolve address: \(m)"
        case let .system(call, code): "\(call): \(String(cString: strerror(code)))"
        case .timeout: "timed out"
        case .closedByPeer: "connection closed by the server"
        }
    }
}
