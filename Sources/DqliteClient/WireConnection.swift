import Dispatch
import DqliteWire

/// One handshaken protocol v1 connection to one node. Blocking socket work runs on the connection's own
/// serial queue, never on Swift's cooperative pool; each `call` writes a request and reads its reply in one
/// step on that queue, so concurrent callers cannot interleave on the wire.
public final class WireConnection: @unchecked Sendable {
    // @unchecked: `socket` and `broken` are only touched on `queue`, which serialises all access.
    public let address: String
    public let maxMessageBytes: UInt64
    private let queue: DispatchQueue
    private var socket: Socket?
    private var broken: DqliteError?

    private init(address: String, socket: Socket, maxMessageBytes: UInt64) {
        self.address = address
        self.socket = socket
        self.maxMessageBytes = maxMessageBytes
        queue = DispatchQueue(label: "dqlite.wire.\(address)")
    }

    deinit { socket?.shutdownBoth() }

    /// Connects and sends the protocol version word (v1; the server answers nothing).
    public static func dial(_ address: String, timeout: Duration,
                            maxMessageBytes: UInt64 = WireLimits.defaultMaxMessageBytes) async throws(DqliteError) -> WireConnection {
        let target = try NodeAddress(parsing: address)
        let result: Result<WireConnection, DqliteError> = await withCheckedContinuation { c in
            DispatchQueue.global().async {
                let deadline = ContinuousClock.now + timeout
                do {
                    let s = try Socket.connect(to: target, deadline: deadline)
                    try s.send(ProtocolVersion.v1.encoded, deadline: deadline)
                    c.resume(returning: .success(WireConnection(address: address, socket: s, maxMessageBytes: maxMessageBytes)))
                } catch {
                    c.resume(returning: .failure(.dialFailed(address: address, reason: "\(error)")))
                }
            }
        }
        return try result.get()
    }

    /// Sends `request` and reads one reply. A FAILURE reply is returned, not thrown, so callers decide.
    public func call(_ request: Request, timeout: Duration, context: ResponseContext = ResponseContext()) async throws(DqliteError) -> Response {
        let bytes: [UInt8]
        do { bytes = try request.encoded() } catch { throw .misuse("cannot encode request: \(error)") }
        return try await onQueue { deadline throws(DqliteError) in
            try self.sendLocked(bytes, deadline: deadline)
            return try self.receiveLocked(deadline: deadline, context: context)
        }(timeout)
    }

    /// Sends a request without reading its reply (for INTERRUPT while a result is streaming).
    public func send(_ request: Request, timeout: Duration) async throws(DqliteError) {
        let bytes: [UInt8]
        do { bytes = try request.encoded() } catch { throw .misuse("cannot encode request: \(error)") }
        try await onQueue { deadline throws(DqliteError) in try self.sendLocked(bytes, deadline: deadline) }(timeout)
    }

    /// Reads the next message (the next ROWS batch of a streaming result).
    public func receive(timeout: Duration, context: ResponseContext = ResponseContext()) async throws(DqliteError) -> Response {
        try await onQueue { deadline throws(DqliteError) in try self.receiveLocked(deadline: deadline, context: context) }(timeout)
    }

    /// Closes the socket; pending and later calls fail with `connectionLost`.
    public func close() {
        queue.async {
            self.socket?.shutdownBoth()
            self.socket = nil
            if self.broken == nil { self.broken = .connectionLost(address: self.address, requestSent: false, reason: "closed") }
        }
    }

    /// Whether the connection is known to be unusable.
    public var isBroken: Bool { queue.sync { broken != nil } }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (ContinuousClock.Instant) throws(DqliteError) -> T) -> @Sendable (Duration) async throws(DqliteError) -> T {
        { timeout throws(DqliteError) in
            let result: Result<T, DqliteError> = await withCheckedContinuation { c in
                self.queue.async {
                    let deadline = ContinuousClock.now + timeout
                    do throws(DqliteError) { c.resume(returning: .success(try body(deadline))) } catch { c.resume(returning: .failure(error)) }
                }
            }
            return try result.get()
        }
    }

    private func fail(_ error: DqliteError) -> DqliteError {
        broken = error
        socket?.shutdownBoth()
        socket = nil
        return error
    }

    private func sendLocked(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(DqliteError) {
        if let broken { throw Self.unsent(broken) }
        guard let socket else { throw .connectionLost(address: address, requestSent: false, reason: "closed") }
        if socket.peerHasClosed() {
            throw fail(.connectionLost(address: address, requestSent: false, reason: "closed by the server while idle"))
        }
        do {
            try socket.send(bytes, deadline: deadline)
        } catch .timeout {
            throw fail(.timeout(address: address, requestSent: true))
        } catch {
            throw fail(.connectionLost(address: address, requestSent: true, reason: "\(error)"))
        }
    }

    private func receiveLocked(deadline: ContinuousClock.Instant, context: ResponseContext) throws(DqliteError) -> Response {
        if let broken { throw Self.unsent(broken) }
        guard let socket else { throw .connectionLost(address: address, requestSent: false, reason: "closed") }
        let header: MessageHeader
        let body: [UInt8]
        do {
            header = try MessageHeader.decode(try socket.receive(exactly: MessageHeader.size, deadline: deadline),
                                              maxBodyBytes: maxMessageBytes)
            body = try socket.receive(exactly: header.bodyBytes, deadline: deadline)
        } catch let error as WireError {
            throw fail(.protocolError(address: address, reason: "\(error)"))
        } catch SocketError.timeout {
            throw fail(.timeout(address: address, requestSent: true))
        } catch {
            throw fail(.connectionLost(address: address, requestSent: true, reason: "\(error)"))
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
