#if canImport(Glibc)
import Glibc
import CLinuxEvents
#endif
import Synchronization

/// One thread that waits for socket readiness with epoll and also runs Swift tasks (a `TaskExecutor`).
///
/// Every client socket is non-blocking; a task that must wait for one registers here and suspends, and the
/// loop resumes it when epoll says the socket is ready or its deadline passes. A task that prefers this
/// executor (`withTaskExecutorPreference(EventLoop.shared)`, as dqlite-bench's workers do) is resumed on
/// the loop thread itself, so a request costs one thread wake-up, as in Go's netpoller; other tasks are
/// resumed on the global pool.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked: `waiters` and `armed` are touched only on the loop thread; everything that other threads
    // hand over goes through the `inbox` mutex.

    /// The process-wide loop used by every connection unless told otherwise.
    public static let shared = EventLoop()

    private let epfd: Int32
    private let wakeFD: Int32
    private let inbox = Mutex(Inbox())
    private var waiters: [Int32: Waiter] = [:]
    private var armed: Set<Int32> = []
    private var thread = pthread_t()

    private struct Inbox {
        var jobs: [UnownedJob] = []
        var registrations: [Waiter] = []
        var sleeping = false
    }

    struct Waiter {
        let fd: Int32
        let events: UInt32
        let deadline: ContinuousClock.Instant
        let continuation: UnsafeContinuation<Result<Void, SocketError>, Never>

        func resume(_ result: Result<Void, SocketError>) { continuation.resume(returning: result) }
    }

    private init() {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        precondition(epfd >= 0 && wakeFD >= 0, "epoll/eventfd unavailable: \(String(cString: strerror(errno)))")
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.fd = wakeFD
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &ev)
        let box = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { arg in
            let loop = Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "cannot start the client event loop thread")
    }

    // MARK: TaskExecutor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let wake = inbox.withLock { box -> Bool in
            box.jobs.append(job)
            defer { box.sleeping = false }
            return box.sleeping
        }
        if wake { poke() }
    }

    // MARK: Readiness

    /// Suspends until `fd` is ready for `events` (EPOLLIN / EPOLLOUT), or throws `.timeout` at `deadline`.
    func wait(fd: Int32, for events: UInt32, deadline: ContinuousClock.Instant) async throws(SocketError) {
        let result = await withUnsafeContinuation { (c: UnsafeContinuation<Result<Void, SocketError>, Never>) in
            let waiter = Waiter(fd: fd, events: events, deadline: deadline, continuation: c)
            let wake = inbox.withLock { box -> Bool in
                box.registrations.append(waiter)
                defer { box.sleeping = false }
                return box.sleeping
            }
            if wake { poke() }
        }
        try result.get()
    }

    private func poke() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: The loop

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let (jobs, registrations) = inbox.withLock { box in
                defer { box.jobs.removeAll(keepingCapacity: true); box.registrations.removeAll(keepingCapacity: true) }
                return (box.jobs, box.registrations)
            }
            for w in registrations { arm(w) }
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
            if !jobs.isEmpty || !registrations.isEmpty { continue }

            let timeout = nextTimeout()
            let mayWait = inbox.withLock { box -> Bool in
                if !box.jobs.isEmpty || !box.registrations.isEmpty { return false }
                box.sleeping = true
                return true
            }
            let n = epoll_wait(epfd, &events, Int32(events.count), mayWait ? timeout : 0)
            inbox.withLock { $0.sleeping = false }
            if n > 0 {
                for i in 0..<Int(n) {
                    let fd = events[i].data.fd
                    if fd == wakeFD {
                        var v: UInt64 = 0
                        _ = read(wakeFD, &v, 8)
                    } else if let w = waiters.removeValue(forKey: fd) {
                        w.resume(.success(()))
                    }
                }
            }
            expireWaiters()
        }
    }

    private func arm(_ w: Waiter) {
        if let previous = waiters[w.fd] {
            // Two waiters on one socket: the connection's lock makes this a bug, never a hang.
            previous.resume(.failure(.system("epoll (a second waiter on one socket)", EBUSY)))
        }
        var ev = epoll_event()
        ev.events = w.events | EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue
        ev.data.fd = w.fd
        var rc: Int32
        if armed.contains(w.fd) {
            rc = epoll_ctl(epfd, EPOLL_CTL_MOD, w.fd, &ev)
            // The number may belong to a new socket now (the old one was closed and forgotten by epoll).
            if rc != 0 && errno == ENOENT { rc = epoll_ctl(epfd, EPOLL_CTL_ADD, w.fd, &ev) }
        } else {
            rc = epoll_ctl(epfd, EPOLL_CTL_ADD, w.fd, &ev)
            if rc != 0 && errno == EEXIST { rc = epoll_ctl(epfd, EPOLL_CTL_MOD, w.fd, &ev) }
        }
        guard rc == 0 else {
            w.resume(.failure(.system("epoll_ctl", errno)))
            return
        }
        armed.insert(w.fd)
        waiters[w.fd] = w
    }

    /// Milliseconds until the nearest deadline (-1: none), rounded up so a deadline is never missed early.
    private func nextTimeout() -> Int32 {
        guard let nearest = waiters.values.map(\.deadline).min() else { return -1 }
        let left = nearest - ContinuousClock.now
        if left <= .zero { return 0 }
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: ms)
    }

    private func expireWaiters() {
        guard !waiters.isEmpty else { return }
        let now = ContinuousClock.now
        for (fd, w) in waiters where w.deadline <= now {
            waiters.removeValue(forKey: fd)
            w.resume(.failure(.timeout))
        }
    }
}

