import Synchronization

/// A FIFO lock for async code: waiters suspend instead of blocking a thread.
final class AsyncLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [UnsafeContinuation<Void, Never>])>((false, []))

    func lock() async {
        // Fast path without allocating a continuation.
        if state.withLock({ s in
            if s.locked { return false }
            s.locked = true
            return true
        }) { return }
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.locked {
                    s.waiters.append(c)
                    return false
                }
                s.locked = true
                return true
            }
            if acquired { c.resume() }
        }
    }

    /// Hands the lock to the next waiter, if any.
    func unlock() {
        let next = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
