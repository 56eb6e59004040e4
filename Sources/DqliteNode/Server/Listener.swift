#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CUV
import DqliteWire

/// The node's one TCP listener, shared by Raft peers and clients (DESIGN.md decision 3). Every accepted
/// connection first sends the protocol version word and a message header; a CONNECT message makes it a Raft
/// peer stream, anything else a client.
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

    init(loop: UnsafeMutablePointer<uv_loop_t>, transport: RaftTransport) {
        self.loop = loop
        self.transport = transport
    }

    deinit { server.deallocate() }

    func listen(on address: String) throws(NodeError) {
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

    private func accept() {
        // Raft frees the streams it is given with raft_free, so every accepted handle comes from raft_malloc.
        let client = raft_malloc(MemoryLayout<uv_tcp_t>.size)!.bindMemory(to: uv_tcp_t.self, capacity: 1)
        uv_tcp_init(loop, client)
        guard uv_accept(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_stream_t.self),
                        UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self)) == 0, !closed else {
            uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self)) { raft_free($0) }
            return
        }
        uv_tcp_nodelay(client, 1)
        let c = IncomingConnection(handle: client, listener: self)
        connections[ObjectIdentifier(c)] = c
        c.start()
    }

    /// A CONNECT arrived on `c`: its stream now belongs to Raft.
    func handOver(_ c: IncomingConnection, id: UInt64, address: String) {
        guard isPeer(id, address) else { return c.close() }
        connections.removeValue(forKey: ObjectIdentifier(c))
        c.handle.pointee.data = nil
        let stream = UnsafeMutableRawPointer(c.handle).assumingMemoryBound(to: uv_stream_t.self)
        if !transport.accept(id: id, address: address, stream: stream) {
            uv_close(UnsafeMutableRawPointer(c.handle).assumingMemoryBound(to: uv_handle_t.self)) { raft_free($0) }
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
        for c in Array(connections.values) { c.close() }
    }
}
