#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CTLS
import CUV
import DqliteClient
import DqliteWire

/// The node's one TCP listener, shared by Raft peers and clients (DESIGN.md decision 3). Every accepted
/// connection first sends the protocol version word and a message header; a CONNECT message makes it a Raft
/// peer stream, anything else a client. With TLS, a server of the TLS layer listens instead: it checks each
/// connection's certificate on a thread of its own and hands the session here, where the loop runs it; a
/// Raft peer's session then moves into a tunnel, since C-Raft reads and writes plain libuv streams.
final class Listener {
    let server = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    let loop: UnsafeMutablePointer<uv_loop_t>
    unowned let transport: RaftTransport
    /// Called with each client connection once its first header has been read.
    var onClient: ((IncomingConnection, ProtocolVersion, MessageHeader, [UInt8]) -> Void)?
    var connections: [ObjectIdentifier: IncomingConnection] = [:] {
        didSet { metrics?.connections.record(connections.count) }
    }
    /// Where the number of client connections is reported.
    var metrics: NodeMetrics?
    /// Whether a CONNECT from (id, address) may become a Raft stream. C-Raft trusts its peers' bytes, so only
    /// members of the configuration are let in (any peer while this node knows no configuration yet, so
    /// that a joining node can hear from the leader).
    var isPeer: (UInt64, String) -> Bool = { _, _ in true }
    private var closed = false
    /// Mutual TLS on the address (set before `listen`); nil: plain TCP.
    var tls: TLSContext?
    private var tlsServer: OpaquePointer?
    private let tlsReady = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
    private var tlsReadyStarted = false

    init(loop: UnsafeMutablePointer<uv_loop_t>, transport: RaftTransport) {
        self.loop = loop
        self.transport = transport
    }

    deinit {
        server.deallocate()
        if !tlsReadyStarted { tlsReady.deallocate() }  // else its close callback frees it
    }

    func listen(on address: String) throws(NodeError) {
        if let tls { return try listenWithTLS(on: address, tls) }
        guard let target = SocketAddress(address) else { throw .invalid("bad address \(address): expected HOST:PORT with a numeric host") }
        uv_tcp_init(loop, server)
        server.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var rc = target.withSockaddr { uv_tcp_bind(server, $0, 0) }
        if rc == 0 {
            rc = uv_listen(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_stream_t.self), 128) { s, status in
                guard status == 0 else { return }
                Unmanaged<Listener>.fromOpaque(s!.pointee.data).takeUnretainedValue().accept()
            }
        }
        guard rc == 0 else {
            uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
            throw .system("cannot listen on \(address): \(String(cString: uv_strerror(rc)))")
        }
    }

    private func listenWithTLS(on address: String, _ tls: TLSContext) throws(NodeError) {
        var error = [CChar](repeating: 0, count: 512)
        guard let s = dq_tls_server_start(tls.raw, address, &error, error.count) else { throw .system(error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }) }
        tlsServer = s
        tlsReadyStarted = true
        uv_poll_init(loop, tlsReady, dq_tls_server_event_fd(s))
        tlsReady.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_poll_start(tlsReady, Int32(UV_READABLE.rawValue)) { p, _, _ in
            Unmanaged<Listener>.fromOpaque(p!.pointee.data).takeUnretainedValue().adoptSessions()
        }
    }

    /// Sessions the TLS server authenticated become connections whose TLS the loop runs (`TLSSession`).
    private func adoptSessions() {
        guard let s = tlsServer else { return }
        while let session = dq_tls_server_take(s) {
            guard !closed else {
                dq_tls_stream_free(session)
                continue
            }
            let c = IncomingConnection(tls: TLSSession(loop: loop, session: session), listener: self)
            connections[ObjectIdentifier(c)] = c
            c.start()
        }
    }

    /// Memory for a stream handle, TCP or pipe (C-Raft frees the streams it is given with raft_free).
    static func newStream() -> UnsafeMutableRawPointer {
        raft_malloc(max(MemoryLayout<uv_tcp_t>.size, MemoryLayout<uv_pipe_t>.size))!
    }

    private func accept() {
        let client = Listener.newStream().bindMemory(to: uv_tcp_t.self, capacity: 1)
        uv_tcp_init(loop, client)
        guard uv_accept(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_stream_t.self),
                        UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self)) == 0, !closed else {
            uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self)) { raft_free($0) }
            return
        }
        uv_tcp_nodelay(client, 1)
        start(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self))
    }

    private func start(_ stream: UnsafeMutablePointer<uv_stream_t>) {
        let c = IncomingConnection(handle: stream, listener: self)
        connections[ObjectIdentifier(c)] = c
        c.start()
    }

    /// A CONNECT arrived on `c`: its stream now belongs to Raft.
    func handOver(_ c: IncomingConnection, id: UInt64, address: String) {
        guard isPeer(id, address) else { return c.close() }
        connections.removeValue(forKey: ObjectIdentifier(c))
        guard let stream = c.streamForRaft() else { return }
        if !transport.accept(id: id, address: address, stream: stream) {
            uv_close(UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_handle_t.self)) { raft_free($0) }
        }
    }

    func forget(_ c: IncomingConnection) { connections.removeValue(forKey: ObjectIdentifier(c)) }

    /// Stops listening and closes every connection not handed to Raft.
    func close() {
        guard !closed else { return }
        closed = true
        if uv_is_active(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self)) != 0 {
            uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
        }
        if let s = tlsServer {
            uv_close(UnsafeMutableRawPointer(tlsReady).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0!).deallocate() }
            tlsServer = nil
            dq_tls_server_stop(s)
        }
        for c in Array(connections.values) { c.close() }
    }
}
