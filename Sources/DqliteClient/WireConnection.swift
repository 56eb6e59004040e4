import Synchronization
import DqliteWire

/// One handshaken protocol v1 connection to one node. Its socket is non-blocking and waits through an
/// `EventLoop`, so no thread ever blocks on it. Each `call` writes a request and reads its reply while holding
/// the connection's lock, so concurrent callers cannot interleave on the wire.
public final class WireConnection: @unchecked Sendable {
    // @unchecked: `socket`'s buffer and `broken` are only touched while `exclusive` is held; `closed` is atomic.
    public let address: String
    public let maxMessageBytes: UInt64
    private let socket: Socket
    private let exclusive = AsyncLock()
    private var broken: DqliteError?
    private let closed = Atomic<Bool>(false)

    private init(address: String, socket: Socket, maxMessageBytes: UInt64) {
        self.address = address
        self.socket = socket
        self.maxMessageBytes = maxMessageBytes
    }

    deinit { socket.shutdownBoth() }

    /// Connects and sends the protocol version word (v1; the server answers nothing).
    public static func dial(_ address: String, timeout: Duration, maxMessageBytes: UInt64 = WireLimits.defaultMaxMessageBytes,
                            tls: TLSContext? = nil, loop: EventLoop = .shared) async throws(DqliteError) -> WireConnection {
        let target = try NodeAddress(parsing: address)
        let deadline = ContinuousClock.now + timeout
        do {
            let s = try await Socket.connect(to: target, deadline: deadline, loop: loop)
            if let tls { try await s.secure(with: tls, deadline: deadline) }
            try await s.send(ProtocolVersion.v1.encoded, deadline: deadline)
            return WireConnection(address: address, socket: s, maxMessageBytes: maxMessageBytes)
        } catch {
            throw .dialFailed(address: address, reason: "\(error)")
        }
    }

    /// Sends `request` and reads one reply. A FAILURE reply is returned, not thrown, so callers decide.
    public func call(_ request: Request, timeout: Duration, context: ResponseContext = ResponseContext()) async throws(DqliteError) -> Response {
        let bytes = try Self.encode(request)
        await exclusive.lock()
        defer { exclusive.unlock() }
        let deadline = ContinuousClock.now + timeout
        try await sendLocked(bytes, deadline: deadline)
        return try await receiveLocked(deadline: deadline, context: context, replyDue: true)
    }

    /// Sends a request without reading its reply (INTERRUPT while a result is streaming).
    public func send(_ request: Request, timeout: Duration) async throws(DqliteError) {
        let bytes = try Self.encode(request)
        await exclusive.lock()
        defer { exclusive.unlock() }
        try await sendLocked(bytes, deadline: ContinuousClock.now + timeout)
    }

    /// Reads the next message (the next ROWS batch of a streaming result).
    public func receive(timeout: Duration, context: ResponseContext = ResponseContext()) async throws(DqliteError) -> Response {
        await exclusive.lock()
        defer { exclusive.unlock() }
        return try await receiveLocked(deadline: ContinuousClock.now + timeout, context: context, replyDue: false)
    }

    /// Closes the connection: a call in progress fails at once, later calls fail without sending.
    public func close() {
        closed.store(true, ordering: .releasing)
        socket.shutdownBoth()
    }

    private static func encode(_ request: Request) throws(DqliteError) -> [UInt8] {
        do { return try request.encoded() } catch { throw .misuse("cannot encode request: \(error)") }
    }

    private func fail(_ error: DqliteError) -> DqliteError {
        broken = error
        socket.shutdownBoth()
        return error
    }

    private func checkUsable() throws(DqliteError) {
        if closed.load(ordering: .acquiring) { throw .connectionLost(address: address, requestSent: false, reason: "closed") }
        if let broken { throw Self.unsent(broken) }
    }

    private func sendLocked(_ bytes: [UInt8], deadline: ContinuousClock.Instant) async throws(DqliteError) {
        try checkUsable()
        if socket.peerHasClosed() {
            throw fail(.connectionLost(address: address, requestSent: false, reason: "closed by the server while idle"))
        }
        do {
            try await socket.send(bytes, deadline: deadline)
        } catch .timeout {
            throw fail(.timeout(address: address, requestSent: true))
        } catch {
            throw fail(.connectionLost(address: address, requestSent: true, reason: "\(error)"))
        }
    }

    private func receiveLocked(deadline: ContinuousClock.Instant, context: ResponseContext, replyDue: Bool) async throws(DqliteError) -> Response {
        try checkUsable()
        let header: MessageHeader
        let body: [UInt8]
        do {
            header = try MessageHeader.decode(try await socket.receive(exactly: MessageHeader.size, deadline: deadline, replyDue: replyDue),
                                              maxBodyBytes: maxMessageBytes)
            body = try await socket.receive(exactly: header.bodyBytes, deadline: deadline)
        } catch let error as WireError {
            throw fail(.protocolError(address: address, reason: "\(error)"))
        } catch SocketError.timeout {
            throw fail(.timeout(address: address, requestSent: true))
        } catch {
            let reason = closed.load(ordering: .acquiring) ? "closed" : "\(error)"
            throw fail(.connectionLost(address: address, requestSent: true, reason: reason))
        }
        do {
            return try Response.decode(header: header, body: body, context: context)
        } catch {
            throw fail(.protocolError(address: address, reason: "\(error)"))
        }
    }

    /// A request on an already broken connection never reached the server.
    private static func unsent(_ e: DqliteError) -> DqliteError {
        switch e {
        case let .connectionLost(a, _, r): .connectionLost(address: a, requestSent: false, reason: r)
        case let .timeout(a, _): .connectionLost(address: a, requestSent: false, reason: "an earlier request timed out")
        case let .protocolError(a, r): .connectionLost(address: a, requestSent: false, reason: "an earlier reply was malformed: \(r)")
        default: e
        }
    }
}
