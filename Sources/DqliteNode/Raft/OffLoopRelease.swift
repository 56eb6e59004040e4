#if canImport(Glibc)
import Glibc
#endif
import CMalloc

/// Work that frees memory, done on a short-lived thread instead of the loop thread:
/// - a stored snapshot's pages: the pages only the snapshot still held (those the database rewrote meanwhile)
///   can add up to most of a database, and unmapping memory that size had taken 2-7 ms of the loop thread per
///   snapshot (40-70 MB here), on every node, during which no request or Raft message was handled;
/// - handing malloc's free memory back (`malloc_trim`), which holds malloc's arena locks: only once a node is
///   idle (`IdleCompaction`). After every snapshot it had cost the write tail: in 3 interleaved runs each
///   (issue 21) the p99 was 5.9 ms without it against 6.4 with it at 8 writers, 2.4-2.6 against 2.8 at 1 writer.
enum OffLoopRelease {
    /// Drops this reference to `object` on a detached thread, so that if it was the last one, the object's
    /// deinit and the memory it frees run there; in place if no thread can be started.
    static func release(_ object: AnyObject) {
        let box = Unmanaged.passRetained(object)
        if !detach(box.toOpaque(), { context in
            Unmanaged<AnyObject>.fromOpaque(context!).release()
            return nil
        }) {
            box.release()
        }
    }

    /// Hands malloc's free memory back to the system, on a detached thread (not at all if none can be started).
    static func trimMalloc() {
        _ = detach(nil) { _ in
            malloc_trim(0)
            return nil
        }
    }

    /// Runs `body(context)` on a new detached thread with a small stack; false if none could be started.
    private static func detach(_ context: UnsafeMutableRawPointer?,
                               _ body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?) -> Bool {
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { return false }
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 64 * 1024)
        var thread = pthread_t()
        return pthread_create(&thread, &attributes, body, context) == 0
    }
}
