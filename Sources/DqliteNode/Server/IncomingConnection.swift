#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CUV
import DqliteWire

/// One accepted connection. It reads exactly the bytes it needs (never past the handshake, since after a
/// CONNECT the next byte belongs to Raft), then becomes a Raft stream or a client connection.
final class IncomingConnection {
    /// A TCP handle (from raft_malloc, as Raft frees it), or nil with TLS: `tls` runs the connection.
    let handle: UnsafeMutablePointer<uv_stream_t>?
    let tls: TLSSession?
    unowned let listener: Listener
    /// Largest body accepted before the connection is classified (a CONNECT body is an id and an address).
    static let maxHandshakeBody = 4096

    private var buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    private var capacity = 64
    private var have = 0
    private var need = 8
    private var phase = Phase.version
    private var version = ProtocolVersion.v1
    private var closing = false
    private var reading = false
    /// Set when the connection is a client: every complete message goes here.
    var onMessage: ((MessageHeader, [UInt8]) -> Void)?
    var onClose: (() -> Void)?
    var maxBody = IncomingConnection.maxHandshakeBody

    private enum Phase { case version, header, body(MessageHeader) }

    init(handle: UnsafeMutablePointer<uv_stream_t>, listener: Listener) {
        self.handle = handle
        tls = nil
        self.listener = listener
    }

    init(tls: TLSSession, listener: Listener) {
        handle = nil
        self.tls = tls
        self.listener = listener
    }

    deinit { buffer.deallocate() }

    var stream: UnsafeMutablePointer<uv_stream_t> { handle! }

    func start() {
        if let tls {
            tls.onReadable = { [unowned self] in readTLS() }
            tls.onFlushed = { [unowned self] in writesDrained() }
            tls.onFailed = { [unowned self] in close() }
        } else {
            stream.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        }
        resume()
    }

    /// The stream Raft gets after a CONNECT: this connection's own, or with TLS the plain end of a tunnel the
    /// session moves into (with what it already decrypted). Nil when that fails (the connection is gone).
    func streamForRaft() -> UnsafeMutablePointer<uv_stream_t>? {
        guard let tls else {
            stream.pointee.data = nil
            return stream
        }
        closing = true
        let fd = tls.intoTunnel()
        guard fd >= 0 else { return nil }
        let pipe = Listener.newStream().bindMemory(to: uv_pipe_t.self, capacity: 1)
        uv_pipe_init(listener.loop, pipe, 0)
        guard uv_pipe_open(pipe, fd) == 0 else {
            Glibc.close(fd)
            uv_close(UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_handle_t.self)) { raft_free($0) }
            return nil
        }
        return UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// How many bytes to read next. During the handshake, at most the bytes still missing: after a CONNECT
    /// the next byte belongs to Raft. A client's bytes are all ours, so read what is there (the next requests
    /// too), up to 64 KiB at a time: memory grows with what arrives, not with what a header announces.
    private var readSize: Int {
        onMessage == nil ? min(need - have, 64 * 1024) : max(min(need - have, 64 * 1024), 16 * 1024)
    }

    /// With TLS: everything the session has decrypted and the socket holds, until it runs dry or reading stops.
    private func readTLS() {
        guard let tls else { return }
        while reading && !closing {
            let want = readSize
            reserve(have + want)
            let n = tls.read(into: buffer + have, count: want)
            if n == 0 { return }
            received(n)
        }
    }

    /// Starts reading (again); a no-op while reading.
    func resume() {
        guard !closing, !reading else { return }
        reading = true
        if let tls { return tls.setReading(true) }
        uv_read_start(stream, { h, _, buf in
            let c = Unmanaged<IncomingConnection>.fromOpaque(h!.pointee.data).takeUnretainedValue()
            let want = c.readSize
            c.reserve(c.have + want)
            buf!.pointee = uv_buf_init((c.buffer + c.have).assumingMemoryBound(to: CChar.self), UInt32(want))
        }, { s, nread, _ in
            let c = Unmanaged<IncomingConnection>.fromOpaque(s!.pointee.data).takeUnretainedValue()
            c.received(nread)
        })
    }

    /// Stops reading; what was read already is still delivered.
    func pause() {
        guard reading else { return }
        reading = false
        if let tls { return tls.setReading(false) }
        uv_read_stop(stream)
    }

    private func received(_ n: Int) {
        if n < 0 { return close() }
        have += n
        // Every complete message in the buffer, in order (only a client's reads go past one message).
        var consumed = 0
        while !closing && have - consumed >= need {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buffer + consumed, count: need))
            consumed += need
            switch phase {
            case .version:
                guard let v = try? ProtocolVersion.decode(bytes) else { return close() }
                version = v
                expect(8, .header)
            case .header:
                guard let header = try? MessageHeader.decode(bytes, maxBodyBytes: UInt64(maxBody)) else { return close() }
                if header.words == 0 {
                    // C dqlite would wait forever on an empty body; refuse it instead.
                    return close()
                }
                expect(header.bodyBytes, .body(header))
            case .body(let header):
                expect(8, .header)
                if let onMessage { onMessage(header, bytes) } else { classify(header, bytes) }
            }
        }
        guard !closing else { return }
        if consumed > 0 {
            have -= consumed
            if have > 0 { buffer.copyMemory(from: buffer + consumed, byteCount: have) }
        }
        shrinkIfIdle()
    }

    private func expect(_ n: Int, _ next: Phase) {
        need = n
        phase = next
    }

    /// Gives back the memory of a large message once it has been handled.
    private func shrinkIfIdle() {
        guard capacity > 1 << 20, have <= 64 * 1024, need <= 64 * 1024 else { return }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        fresh.copyMemory(from: buffer, byteCount: have)
        buffer.deallocate()
        buffer = fresh
        capacity = 64 * 1024
    }

    /// Grows the buffer to hold `bytes`, keeping what it holds.
    fileprivate func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        let grown = max(bytes, min(capacity * 2, need))
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
        fresh.copyMemory(from: buffer, byteCount: have)
        buffer.deallocate()
        buffer = fresh
        capacity = grown
    }

    /// The first message decides: CONNECT (protocol v1 only) hands the stream to Raft; anything else is a
    /// client, and the message is its first request.
    private func classify(_ header: MessageHeader, _ body: [UInt8]) {
        if header.type == RequestType.connect.rawValue {
            guard version == .v1, header.schema == 0,
                  case let .connect(id, address)? = try? Request.decode(header: header, body: body), id != 0, !address.isEmpty else {
                return close()
            }
            pause()
            listener.handOver(self, id: id, address: address)
            return
        }
        guard let onClient = listener.onClient else { return close() }
        onClient(self, version, header, body)
    }

    /// Bytes queued for writing beyond which the reader should wait (`write` returns false).
    static let writeQueueLimit = 1 << 20
    /// Runs once, when queued writes have fallen below `writeQueueLimit` after `write` returned false.
    var onWritten: (() -> Void)?

    /// Queues `bytes` for writing. False when the queue is long (a slow reader): stop reading until
    /// `onWritten` runs.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        guard !closing, !bytes.isEmpty else { return true }
        if let tls {
            guard tls.write(bytes) else {
                close()
                return true
            }
            return tls.queuedBytes < Self.writeQueueLimit
        }
        // Most replies fit the socket buffer: written at once, with no request, callback or poller change.
        var written = 0
        if uv_stream_get_write_queue_size(stream) == 0 {
            let n = bytes.withUnsafeBytes { raw -> Int32 in
                var buf = uv_buf_init(UnsafeMutableRawPointer(mutating: raw.baseAddress!).assumingMemoryBound(to: CChar.self), UInt32(raw.count))
                return uv_try_write(stream, &buf, 1)
            }
            if n == Int32(bytes.count) { return true }
            if n > 0 { written = Int(n) } else if n != UV_EAGAIN.rawValue { close(); return true }
        }
        let w = PendingWrite(bytes: written == 0 ? bytes : Array(bytes[written...]))
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(w).toOpaque()
        var buf = uv_buf_init(w.storage.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(w.storage.count))
        let rc = uv_write(req, stream, &buf, 1) { req, _ in
            Unmanaged<PendingWrite>.fromOpaque(req!.pointee.data).release()
            let stream = req!.pointee.handle!
            req!.deallocate()
            guard let data = stream.pointee.data else { return }
            let c = Unmanaged<IncomingConnection>.fromOpaque(data).takeUnretainedValue()
            if let then = c.onWritten, uv_stream_get_write_queue_size(stream) < IncomingConnection.writeQueueLimit {
                c.onWritten = nil
                then()
            }
        }
        if rc != 0 {
            Unmanaged<PendingWrite>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            close()
            return true
        }
        return uv_stream_get_write_queue_size(stream) < Self.writeQueueLimit
    }

    /// With TLS: the queue went out, so a reader waiting for it may go on.
    private func writesDrained() {
        guard let then = onWritten else { return }
        onWritten = nil
        then()
    }

    func close() {
        guard !closing else { return }
        closing = true
        listener.forget(self)
        onClose?()
        if let tls { return tls.close() }
        let handle = stream
        // Keep this object alive until libuv is done with the handle.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
            Unmanaged<IncomingConnection>.fromOpaque(h!.pointee.data).release()
            raft_free(h)
        }
    }
}

private final class PendingWrite {
    let storage: UnsafeMutableRawBufferPointer

    init(bytes: [UInt8]) {
        storage = .allocate(byteCount: max(1, bytes.count), alignment: 8)
        storage.copyBytes(from: bytes)
    }

    deinit { storage.deallocate() }
}
