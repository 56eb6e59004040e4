#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CTLS
import CUV
import DqliteClient
import DqliteWire

/// C-Raft's transport over the node's one address (reference/craft-transport.md): dialling sends the
/// protocol version word and a CONNECT message, then hands the stream to Raft; inbound peer connections are
/// recognised by the node's listener and passed to `accept`.
final class RaftTransport {
    let transport: UnsafeMutablePointer<raft_uv_transport>
    let loop: UnsafeMutablePointer<uv_loop_t>
    private(set) var id: raft_id = 0
    private(set) var address = ""
    private var acceptCallback: raft_uv_accept_cb?
    private var dials: [ObjectIdentifier: Dial] = [:]
    private var closing = false
    /// Mutual TLS to peers; nil: plain TCP.
    var tls: TLSContext?

    init(loop: UnsafeMutablePointer<uv_loop_t>) {
        self.loop = loop
        transport = .allocate(capacity: 1)
        transport.initialize(to: raft_uv_transport())
        transport.pointee.impl = Unmanaged.passUnretained(self).toOpaque()
        transport.pointee.`init` = { t, id, address in
            let me = RaftTransport.from(t)
            me.id = id
            me.address = String(cString: address!)
            return 0
        }
        transport.pointee.listen = { t, cb in
            RaftTransport.from(t).acceptCallback = cb
            return 0
        }
        transport.pointee.connect = { t, req, id, address, cb in
            req!.pointee.cb = cb
            return RaftTransport.from(t).dial(req!, id: id, address: String(cString: address!))
        }
        transport.pointee.close = { t, cb in
            let me = RaftTransport.from(t)
            me.closing = true
            me.acceptCallback = nil
            // Pending dials finish (with RAFT_CANCELED) in their close callbacks; raft_close waits for them.
            for dial in me.dials.values { dial.cancel() }
            cb!(t)
        }
    }

    deinit { transport.deallocate() }

    static func from(_ t: UnsafeMutablePointer<raft_uv_transport>?) -> RaftTransport {
        Unmanaged<RaftTransport>.fromOpaque(t!.pointee.impl).takeUnretainedValue()
    }

    /// A peer connected and sent CONNECT: give its stream (allocated with raft_malloc) to Raft. Returns false
    /// when Raft is not listening, and the caller must close the stream.
    func accept(id: raft_id, address: String, stream: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        guard let cb = acceptCallback, !closing else { return false }
        cb(transport, id, address, stream)
        return true
    }

    private func dial(_ req: UnsafeMutablePointer<raft_uv_connect>, id: raft_id, address: String) -> Int32 {
        guard !closing else { return RAFT_CANCELED }
        let handshake: [UInt8]
        do {
            handshake = ProtocolVersion.v1.encoded + (try Request.connect(id: self.id, address: self.address).encoded())
        } catch {
            return RAFT_INVALID
        }
        guard let target = SocketAddress(address) else { return RAFT_NOCONNECTION }
        let d = Dial(transport: self, req: req, handshake: handshake)
        dials[ObjectIdentifier(d)] = d
        if let tls { d.start(through: tls, to: address) } else { d.start(target) }
        return 0
    }

    fileprivate func finished(_ d: Dial) { dials.removeValue(forKey: ObjectIdentifier(d)) }
}

/// One outbound peer connection being set up: TCP connect, then the handshake write, then Raft's callback.
private final class Dial {
    unowned let transport: RaftTransport
    let req: UnsafeMutablePointer<raft_uv_connect>
    /// A TCP handle, or a pipe to a TLS tunnel (either fits: see `Listener.newStream`).
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    let connectReq = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    let writeReq = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    let bytes: UnsafeMutableRawBufferPointer
    var status: Int32 = RAFT_NOCONNECTION
    var done = false

    init(transport: RaftTransport, req: UnsafeMutablePointer<raft_uv_connect>, handshake: [UInt8]) {
        self.transport = transport
        self.req = req
        // Raft frees the stream it is given with raft_free, so it must come from raft_malloc.
        tcp = Listener.newStream().bindMemory(to: uv_tcp_t.self, capacity: 1)
        bytes = .allocate(byteCount: handshake.count, alignment: 8)
        bytes.copyBytes(from: handshake)
    }

    deinit {
        connectReq.deallocate()
        writeReq.deallocate()
        bytes.deallocate()
    }

    func start(_ target: SocketAddress) {
        uv_tcp_init(transport.loop, tcp)
        uv_tcp_nodelay(tcp, 1)
        let me = Unmanaged.passUnretained(self).toOpaque()
        tcp.pointee.data = me
        connectReq.pointee.data = me
        let rc = target.withSockaddr { sa in
            uv_tcp_connect(connectReq, tcp, sa) { req, status in
                let d = Unmanaged<Dial>.fromOpaque(req!.pointee.data).takeUnretainedValue()
                d.connected(status)
            }
        }
        if rc != 0 { fail(RAFT_NOCONNECTION) }
    }

    /// Over TLS: Raft gets the plain end of a socketpair at once, and a tunnel dials the peer. A dial or a
    /// handshake that fails closes the tunnel, and Raft sees its stream end as it would a connection that
    /// broke (it dials again later).
    func start(through tls: TLSContext, to address: String) {
        var pair: [Int32] = [0, 0]
        let kind = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let pipe = UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_pipe_t.self)
        uv_pipe_init(transport.loop, pipe, 0)
        tcp.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        guard socketpair(AF_UNIX, kind, 0, &pair) == 0 else { return fail(RAFT_NOCONNECTION) }
        guard uv_pipe_open(pipe, pair[0]) == 0 else {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
            return fail(RAFT_NOCONNECTION)
        }
        guard dq_tls_tunnel_dial(tls.raw, address, pair[1], 5000) == 0 else { return fail(RAFT_NOCONNECTION) }
        connected(0)
    }

    private func connected(_ status: Int32) {
        guard status == 0, !done else { return fail(done ? RAFT_CANCELED : RAFT_NOCONNECTION) }
        writeReq.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var buf = uv_buf_init(bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let rc = uv_write(writeReq, UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self), &buf, 1) { req, status in
            let d = Unmanaged<Dial>.fromOpaque(req!.pointee.data).takeUnretainedValue()
            d.written(status)
        }
        if rc != 0 { fail(RAFT_NOCONNECTION) }
    }

    private func written(_ status: Int32) {
        guard status == 0, !done else { return fail(done ? RAFT_CANCELED : RAFT_NOCONNECTION) }
        done = true
        tcp.pointee.data = nil
        transport.finished(self)
        req.pointee.cb(req, UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self), 0)
    }

    /// Close the handle; Raft hears `status` once it is closed.
    private func fail(_ status: Int32) {
        guard !uvIsClosing() else { return }
        self.status = status
        done = true
        uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            let d = Unmanaged<Dial>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            raft_free(handle)
            d.transport.finished(d)
            d.req.pointee.cb(d.req, nil, d.status)
        }
    }

    func cancel() { fail(RAFT_CANCELED) }

    private func uvIsClosing() -> Bool {
        uv_is_closing(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) != 0
    }
}

/// An IPv4 or IPv6 address with a port, parsed from "host:port" or "[v6]:port" (numeric hosts only, as
/// dqlite's node addresses are).
struct SocketAddress {
    private var storage = sockaddr_storage()

    init?(_ text: String) {
        var host = Substring(text), port: Substring
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            port = host[host.index(after: close)...].dropFirst()
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        } else {
            return nil
        }
        guard let p = Int32(port), p > 0, p < 65536 else { return nil }
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            if uv_ip4_addr(String(host), p, raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
            return uv_ip6_addr(String(host), p, raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        guard ok else { return nil }
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>) -> T) -> T {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self)) }
    }
}
