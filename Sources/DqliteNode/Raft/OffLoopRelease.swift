#if canImport(Glibc)
import Glibc
#endif
import CRaft

/// Lets go of a stored snapshot on a short-lived thread: the pages only it still held (those the database
/// rewrote meanwhile), and before that its encoding, one buffer of the whole state which malloc maps on its
/// own: unmapping it took 2-7 ms of the loop thread per snapshot (40-70 MB here), on every node, during which
/// no request or Raft message was handled.
///
/// It no longer calls `malloc_trim` after: handing malloc's free memory back saved some RSS at the end of a
/// run, but trimming holds malloc's arena locks, and in 3 interleaved runs each (issue 21) the write p99 was
/// 5.9 ms without it against 6.4 with it at 8 writers, 2.4-2.6 against 2.8 at 1 writer, peak RSS alike.
enum OffLoopRelease {
    /// Calls `raft_free` on every pointer and drops `keeping`, on a detached thread; in place if no thread
    /// can be started.
    static func free(_ pointers: [UnsafeMutableRawPointer], keeping: AnyObject? = nil) {
        guard !pointers.isEmpty || keeping != nil else { return }
        let box = Unmanaged.passRetained(Pointers(pointers, keeping: keeping))
        var attributes = pthread_attr_t()
        var started = false
        if pthread_attr_init(&attributes) == 0 {
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            pthread_attr_setstacksize(&attributes, 64 * 1024)
            var thread = pthread_t()
            started = pthread_create(&thread, &attributes, { context in
                let pointers = Unmanaged<Pointers>.fromOpaque(context!).takeRetainedValue()
                for p in pointers.all { raft_free(p) }
                return nil
            }, box.toOpaque()) == 0
            pthread_attr_destroy(&attributes)
        }
        if !started {
            box.release()
            for p in pointers { raft_free(p) }
        }
    }

    private final class Pointers {
        let all: [UnsafeMutableRawPointer]
        let keeping: AnyObject?
        init(_ all: [UnsafeMutableRawPointer], keeping: AnyObject?) {
            self.all = all
            self.keeping = keeping
        }
    }
}
