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
        return queue([bytes], from: written)
    }

    /// Queues a message given as pieces (a DUMP's reply: its headers and the database's own pages), written
    /// with no copy of them: each buffer points into a piece, and the pieces are kept until the write is done.
    /// With TLS they are joined first (the session encrypts a copy anyway). False as `write(_:)`.
    @discardableResult
    func write(pieces: [[UInt8]]) -> Bool {
        let pieces = pieces.filter { !$0.isEmpty }
        guard !closing, !pieces.isEmpty else { return true }
        if tls != nil { return write(pieces.flatMap { $0 }) }
        return queue(pieces, from: 0)
    }

    /// Hands libuv buffers that point into `pieces` (from byte `offset` of the first), which are kept, not
    /// copied, until the write is done: a reply of a big result or a DUMP had been copied twice more here.
    private func queue(_ pieces: [[UInt8]], from offset: Int) -> Bool {
        let kept = PendingPieces(pieces)
        let bufs = UnsafeMutablePointer<uv_buf_t>.allocate(capacity: pieces.count)
        defer { bufs.deallocate() }  // uv_write copies the array of buffers, not what they point at
        for (i, piece) in kept.pieces.enumerated() {
            // The array's storage stays where it is while `kept` holds it and nothing writes to it (pages are
            // copied before the VFS writes to them).
            let skip = i == 0 ? offset : 0
            let base = piece.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!) } + skip
            bufs[i] = uv_buf_init(base.assumingMemoryBound(to: CChar.self), UInt32(piece.count - skip))
        }
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(kept).toOpaque()
        let rc = uv_write(req, stream, bufs, UInt32(pieces.count)) { req, _ in
            Unmanaged<PendingPieces>.fromOpaque(req!.pointee.data).release()
            IncomingConnection.written(req!)
        }
        if rc != 0 {
            Unmanaged<PendingPieces>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            close()
            return true
        }
        return uv_stream_get_write_queue_size(stream) < Self.writeQueueLimit
    }

    /// A write request is done: frees it, and lets a reader waiting for the queue go on.
    private static func written(_ req: UnsafeMutablePointer<uv_write_t>) {
        let stream = req.pointee.handle!
        req.deallocate()
        guard let data = stream.pointee.data else { return }
        let c = Unmanaged<IncomingConnection>.fromOpaque(data).takeUnretainedValue()
        if let then = c.onWritten, uv_stream_get_write_queue_size(stream) < IncomingConnection.writeQueueLimit {
            c.onWritten = nil
            then()
        }
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

/// The pieces of a message being written: the buffers handed to libuv point into them.
private final class PendingPieces {
    let pieces: [[UInt8]]
    init(_ pieces: [[UInt8]]) { self.pieces = pieces }
}
