#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CUV
import DqliteWire

/// One accepted connection. It reads exactly the bytes it needs (never past the handshake, since after a
/// CONNECT the next byte belongs to Raft), then becomes a Raft stream or a client connection.
final class IncomingConnection {
    let handle: UnsafeMutablePointer<uv_tcp_t>
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
    /// Set when the connection is a client: every complete message goes here.
    var onMessage: ((MessageHeader, [UInt8]) -> Void)?
    var onClose: (() -> Void)?
    var maxBody = IncomingConnection.maxHandshakeBody

    private enum Phase { case version, header, body(MessageHeader) }

    init(handle: UnsafeMutablePointer<uv_tcp_t>, listener: Listener) {
        self.handle = handle
        self.listener = listener
    }

    deinit { buffer.deallocate() }

    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self) }

    func start() {
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        resume()
    }

    func resume() {
        guard !closing else { return }
        uv_read_start(stream, { h, _, buf in
            let c = Unmanaged<IncomingConnection>.fromOpaque(h!.pointee.data).takeUnretainedValue()
            // At most the bytes still missing (nothing beyond the current message is consumed), and at most
            // 64 KiB at a time: memory grows with what arrives, not with what a header announces.
            let want = min(c.need - c.have, 64 * 1024)
            c.reserve(c.have + want)
            buf!.pointee = uv_buf_init((c.buffer + c.have).assumingMemoryBound(to: CChar.self), UInt32(want))
        }, { s, nread, _ in
            let c = Unmanaged<IncomingConnection>.fromOpaque(s!.pointee.data).takeUnretainedValue()
            c.received(nread)
        })
    }

    func pause() { uv_read_stop(stream) }

    private func received(_ n: Int) {
        if n < 0 { return close() }
        have += n
        guard have == need else { return }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: buffer, count: need))
        have = 0
        switch phase {
        case .version:
            do { version = try ProtocolVersion.decode(bytes) } catch { return close() }
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
            if let onMessage { return onMessage(header, bytes) }
            classify(header, bytes)
        }
    }

    private func expect(_ n: Int, _ next: Phase) {
        need = n
        phase = next
        if capacity > 1 << 20 && n <= 64 * 1024 {
            // Give back the memory of a large message once it has been handled.
            buffer.deallocate()
            buffer = .allocate(byteCount: 64 * 1024, alignment: 8)
            capacity = 64 * 1024
        }
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
            uv_read_stop(stream)
            listener.handOver(self, id: id, address: address)
            return
        }
        guard let onClient = listener.onClient else { return close() }
        onClient(self, version, header, body)
    }

    /// Writes `bytes`; `done` runs once they are written (or the write failed).
    func write(_ bytes: [UInt8], done: @escaping () -> Void = {}) {
        guard !closing else { return done() }
        let w = PendingWrite(bytes: bytes, done: done)
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(w).toOpaque()
        var buf = uv_buf_init(w.storage.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let rc = uv_write(req, stream, &buf, 1) { req, _ in
            let w = Unmanaged<PendingWrite>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            w.done()
        }
        if rc != 0 {
            Unmanaged<PendingWrite>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            done()
            close()
        }
    }

    func close() {
        guard !closing else { return }
        closing = true
        listener.forget(self)
        onClose?()
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
    let done: () -> Void

    init(bytes: [UInt8], done: @escaping () -> Void) {
        storage = .allocate(byteCount: max(1, bytes.count), alignment: 8)
        storage.copyBytes(from: bytes)
        self.done = done
    }

    deinit { storage.deallocate() }
}
