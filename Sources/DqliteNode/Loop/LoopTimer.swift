import CUV

/// A libuv timer whose ticks run on the loop thread until it is closed, one-shot or repeating; its handle is
/// freed once libuv is done with it. Owners close it in their own close (or let it go: deinit closes it,
/// and owners are dropped on the loop thread). Starting a closed timer does nothing.
final class LoopTimer {
    private let handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    private let tick: () -> Void
    private var closed = false

    /// Not started: see `start`.
    init(loop: UnsafeMutablePointer<uv_loop_t>, tick: @escaping () -> Void) {
        self.tick = tick
        uv_timer_init(loop, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Ticks first after `firstMs`, then every `periodMs`.
    convenience init(loop: UnsafeMutablePointer<uv_loop_t>, firstMs: UInt64, periodMs: UInt64, tick: @escaping () -> Void) {
        self.init(loop: loop, tick: tick)
        start(afterMs: firstMs, periodMs: periodMs)
    }

    deinit { close() }

    /// (Re)starts it: a tick after `afterMs`, then every `periodMs` (0: only that one).
    func start(afterMs: UInt64, periodMs: UInt64 = 0) {
        guard !closed else { return }
        uv_timer_start(handle, { t in
            let timer = Unmanaged<LoopTimer>.fromOpaque(t!.pointee.data).takeUnretainedValue()
            if !timer.closed { timer.tick() }
        }, afterMs, periodMs)
    }

    func stop() {
        guard !closed else { return }
        uv_timer_stop(handle)
    }

    func close() {
        guard !closed else { return }
        closed = true
        uv_timer_stop(handle)
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in h?.deallocate() }
    }
}
