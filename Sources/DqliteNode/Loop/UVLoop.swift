#if canImport(Glibc)
import Glibc
#endif
import CUV
import Synchronization

/// A libuv loop on its own thread: the one thread that owns Raft, the VFS and every SQLite connection of a
/// node (DESIGN.md decision 2). Other threads hand it work with `submit`, which wakes it with `uv_async_send`.
final class UVLoop: @unchecked Sendable {
    // @unchecked: `loop` and everything reached from it are touched only on the loop thread; `inbox` is a
    // Mutex; `thread` is written once before the thread starts.
    let loop: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let inbox = Mutex<(work: [@Sendable () -> Void], stopping: Bool)>(([], false))
    private var thread = pthread_t()
    /// Work queued from the loop thread itself for its next turn (`later`); loop thread only.
    private var nextTurn: [() -> Void] = []
    private let threadID = Atomic<UInt>(0)
    private let finished = Mutex<Bool>(false)

    init() throws(NodeError) {
        // libuv and C-Raft write to sockets whose peer may be gone: the error must come back as EPIPE, not
        // kill the process.
        signal(SIGPIPE, SIG_IGN)
        loop = .allocate(capacity: 1)
        guard uv_loop_init(loop) == 0 else {
            loop.deallocate()
            throw .system("uv_loop_init failed")
        }
        wakeup = .allocate(capacity: 1)
        uv_async_init(loop, wakeup) { handle in
            Unmanaged<UVLoop>.fromOpaque(handle!.pointee.data).takeUnretainedValue().drain()
        }
        wakeup.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let box = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { arg in
            let me = Unmanaged<UVLoop>.fromOpaque(arg!).takeRetainedValue()
            me.threadID.store(UInt(pthread_self()), ordering: .releasing)
            uv_run(me.loop, UV_RUN_DEFAULT)
            me.finished.withLock { $0 = true }
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw .system("cannot start the loop thread")
        }
    }

    deinit {
        uv_loop_close(loop)
        loop.deallocate()
        wakeup.deallocate()
    }

    var isOnLoopThread: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// Runs `work` on the loop thread, soon. Ignored once the loop is stopping.
    func submit(_ work: @escaping @Sendable () -> Void) {
        let accepted = inbox.withLock { box -> Bool in
            if box.stopping { return false }
            box.work.append(work)
            return true
        }
        if accepted { uv_async_send(wakeup) }
    }

    /// Runs `work` on the loop thread and returns its result to the caller.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws(NodeError) -> T) async throws(NodeError) -> T {
        let result: Result<T, NodeError> = await withCheckedContinuation { c in
            submit { c.resume(returning: Result { () throws(NodeError) in try work() }) }
        }
        return try result.get()
    }

    /// From the loop thread: runs `work` on the loop's next turn, outside whatever callback is running now.
    func later(_ work: @escaping () -> Void) {
        nextTurn.append(work)
        uv_async_send(wakeup)
    }

    private func drain() {
        let work = inbox.withLock { box -> [@Sendable () -> Void] in
            defer { box.work.removeAll() }
            return box.work
        }
        let local = nextTurn
        nextTurn.removeAll()
        for w in work { w() }
        for w in local { w() }
    }

    /// Stops accepting work, runs `closeHandles` on the loop thread (it must close every handle it owns), and
    /// waits for the loop to end.
    func stop(closeHandles: @escaping @Sendable () -> Void) {
        submit {
            closeHandles()
            uv_close(UnsafeMutableRawPointer(self.wakeup).assumingMemoryBound(to: uv_handle_t.self), nil)
        }
        inbox.withLock { $0.stopping = true }
        pthread_join(thread, nil)
    }
}
