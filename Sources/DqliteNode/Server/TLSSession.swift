#if canImport(Glibc)
import Glibc
#endif
import CRaft
import CTLS
import CUV

/// A client connection's TLS, run on the loop thread: the TLS server authenticated it on a thread of its own
/// and handed the session over, and from here the loop reads and writes it like a socket (uv_poll on its
/// descriptor, OpenSSL on non-blocking I/O), with no tunnel thread between the client and the gateway.
/// Loop thread only.
final class TLSSession {
    private var session: OpaquePointer?
    private let poll = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
    private let later = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    /// Bytes `write` could not hand to OpenSSL yet, in order (the first one's start was offered already and
    /// must be offered again unchanged, as OpenSSL requires).
    private var queue: [[UInt8]] = []
    private(set) var queuedBytes = 0
    private var reading = false
    private var closed = false
    /// The socket can take more, or has bytes: the owner reads (`read`) or writes (`flushed` follows).
    var onReadable: (() -> Void)?
    /// Everything queued went out.
    var onFlushed: (() -> Void)?
    /// A write failed: the connection is over.
    var onFailed: (() -> Void)?

    init(loop: UnsafeMutablePointer<uv_loop_t>, session: OpaquePointer) {
        self.session = session
        uv_poll_init(loop, poll, dq_tls_stream_fd(session))
        uv_timer_init(loop, later)
        let me = Unmanaged.passUnretained(self).toOpaque()
        poll.pointee.data = me
        later.pointee.data = me
    }

    /// A session given up without `close` (it never is) must not leave handles that point here.
    deinit { if !closed { close() } }

    /// Starts or stops reading. Decrypted bytes already inside OpenSSL never make the socket readable, so
    /// resuming with some there reads them on the next loop turn.
    func setReading(_ on: Bool) {
        guard !closed, reading != on else { return }
        reading = on
        watch()
        if on, let session, dq_tls_stream_pending(session) > 0 {
            uv_timer_start(later, { t in
                Unmanaged<TLSSession>.fromOpaque(t!.pointee.data).takeUnretainedValue().onReadable?()
            }, 0, 0)
        }
    }

    /// Up to `count` decrypted bytes into `into`: how many, 0 when none are ready (wait for `onReadable`),
    /// -1 at the end of the connection or on a failure.
    func read(into: UnsafeMutableRawPointer, count: Int) -> Int {
        guard let session, !closed else { return -1 }
        let n = dq_tls_stream_read(session, into, count)
        if n > 0 { return n }
        if n == Int(DQ_TLS_WANT_READ) || n == Int(DQ_TLS_WANT_WRITE) { return 0 }
        return -1
    }

    /// Sends `bytes`, or queues what the socket cannot take now. False: the connection failed.
    func write(_ bytes: [UInt8]) -> Bool {
        guard !closed else { return false }
        queue.append(bytes)
        queuedBytes += bytes.count
        return flush()
    }

    private func flush() -> Bool {
        guard let session else { return false }
        while let first = queue.first {
            let n = first.withUnsafeBytes { dq_tls_stream_write(session, $0.baseAddress!, $0.count) }
            if n == first.count {
                queue.removeFirst()
                queuedBytes -= n
            } else if n > 0 {
                queue[0] = Array(first[n...])
                queuedBytes -= n
            } else if n == Int(DQ_TLS_WANT_WRITE) || n == Int(DQ_TLS_WANT_READ) {
                break
            } else {
                return false
            }
        }
        watch()
        return true
    }

    private func watch() {
        let events = (reading ? Int32(UV_READABLE.rawValue) : 0) | (queue.isEmpty ? 0 : Int32(UV_WRITABLE.rawValue))
        if events == 0 {
            uv_poll_stop(poll)
            return
        }
        uv_poll_start(poll, events) { p, status, events in
            let me = Unmanaged<TLSSession>.fromOpaque(p!.pointee.data).takeUnretainedValue()
            me.ready(status: status, events: events)
        }
    }

    private func ready(status: Int32, events: Int32) {
        guard !closed else { return }
        if status < 0 {
            onFailed?()
            return
        }
        if events & Int32(UV_WRITABLE.rawValue) != 0 && !queue.isEmpty {
            guard flush() else { return onFailed?() ?? () }
            if queue.isEmpty { onFlushed?() }
        }
        if !closed && reading && events & Int32(UV_READABLE.rawValue) != 0 { onReadable?() }
    }

    /// Ends the connection: close_notify when the socket takes it, then the descriptor is closed.
    func close() {
        guard !closed else { return }
        dq_tls_stream_close(release())
    }

    /// The session, now a tunnel's (a Raft peer's stream): the plain descriptor to give C-Raft, or -1.
    func intoTunnel() -> Int32 {
        guard !closed else { return -1 }
        return dq_tls_stream_into_tunnel(release())
    }

    /// Stops this object's handles and gives up the session.
    private func release() -> OpaquePointer? {
        closed = true
        onReadable = nil
        onFlushed = nil
        onFailed = nil
        uv_poll_stop(poll)
        uv_timer_stop(later)
        uv_close(UnsafeMutableRawPointer(poll).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0!).deallocate() }
        uv_close(UnsafeMutableRawPointer(later).assumingMemoryBound(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0!).deallocate() }
        defer { session = nil }
        return session
    }
}
