#if canImport(Glibc)
import Glibc
#endif

/// Lets go of a stored snapshot's pages on a short-lived thread. The pages only the snapshot still held (those
/// the database rewrote meanwhile) can add up to most of a database, and unmapping memory that size had taken
/// 2-7 ms of the loop thread per snapshot (40-70 MB here), on every node, during which no request or Raft
/// message was handled.
///
/// It no longer calls `malloc_trim` after: handing malloc's free memory back saved some RSS at the end of a
/// run, but trimming holds malloc's arena locks, and in 3 interleaved runs each (issue 21) the write p99 was
/// 5.9 ms without it against 6.4 with it at 8 writers, 2.4-2.6 against 2.8 at 1 writer, peak RSS alike.
enum OffLoopRelease {
    /// Drops this reference to `object` on a detached thread, so that if it was the last one, the object's
    /// deinit and the memory it frees run there; in place if no thread can be started.
    static func release(_ object: AnyObject) {
        let box = Unmanaged.passRetained(object)
        var attributes = pthread_attr_t()
        var started = false
        if pthread_attr_init(&attributes) == 0 {
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            pthread_attr_setstacksize(&attributes, 64 * 1024)
            var thread = pthread_t()
            started = pthread_create(&thread, &attributes, { context in
                Unmanaged<AnyObject>.fromOpaque(context!).release()
                return nil
            }, box.toOpaque()) == 0
            pthread_attr_destroy(&attributes)
        }
        if !started { box.release() }
    }
}
