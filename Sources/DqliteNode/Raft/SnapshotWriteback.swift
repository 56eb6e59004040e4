#if canImport(Glibc)
import Glibc
#endif
import CWriteback

/// Writes a snapshot file back to the disk while C-Raft writes it, instead of all at its end. C-Raft 0.15
/// stores a snapshot (taken or installed) by writing the whole file into the page cache, then one fsync:
/// 1.2-1.7 GB for the 1.3 GB database of `harness/big_db_bench.py`, flushed in one burst that every log
/// append on the disk queued behind. Writes fell from 400/s to a few dozen for 0.5-0.75 s at the end of each
/// snapshot (p99 of the writes during snapshots 80-136 ms, max 245-586 ms). Started as the file grows, the
/// writeback leaves the fsync little to do and the disk a steady stream: p99 57 ms, max 84, no drop in rate.
///
/// A thread per node sleeps on inotify for C-Raft's temporary snapshot files (`tmp-snapshot-…`, renamed
/// once synced) and, while one exists, starts the writeback of its dirty pages every 10 ms
/// (sync_file_range, which does not wait for the disk). It never writes to the file nor reads it, and a
/// failure only leaves the writeback to C-Raft's fsync, as before.
final class SnapshotWriteback {
    private var thread = pthread_t()
    /// Written to stop the thread.
    private let stopWrite: Int32
    private var stopped = false

    /// Watches `dir`; nil (and nothing to stop) if inotify or a thread is not available.
    init?(dir: String) {
        let inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else { return nil }
        guard inotify_add_watch(inotify, dir, UInt32(IN_CREATE | IN_MOVED_FROM | IN_DELETE)) >= 0 else {
            Glibc.close(inotify)
            return nil
        }
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else {
            Glibc.close(inotify)
            return nil
        }
        for fd in pipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stopWrite = pipe[1]
        let watch = Unmanaged.passRetained(Watch(dir: dir, inotify: inotify, stopRead: pipe[0]))
        guard pthread_create(&thread, nil, { Unmanaged<Watch>.fromOpaque($0!).takeRetainedValue().run(); return nil },
                             watch.toOpaque()) == 0 else {
            watch.release()
            for fd in pipe + [inotify] { Glibc.close(fd) }
            return nil
        }
    }

    deinit { stop() }

    /// Stops the thread and waits for it (it sleeps in poll, or is in a sync_file_range that does not wait
    /// for the disk).
    func stop() {
        guard !stopped else { return }
        stopped = true
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        pthread_join(thread, nil)
        Glibc.close(stopWrite)
    }

    /// The thread's own state: its descriptors and the file it follows.
    private final class Watch {
        let dir: String
        let inotify: Int32
        let stopRead: Int32
        /// The temporary snapshot file being written, opened read-only.
        var file: (name: String, fd: Int32)?

        init(dir: String, inotify: Int32, stopRead: Int32) {
            self.dir = dir
            self.inotify = inotify
            self.stopRead = stopRead
        }

        func run() {
            var events = [UInt8](repeating: 0, count: 4096)
            while true {
                var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0)]
                // While a file is being written, wake every 10 ms to start the writeback of what it has gained.
                let ready = poll(&fds, 2, file == nil ? -1 : 10)
                if ready < 0 && errno != EINTR { break }
                if fds[1].revents != 0 { break }
                if fds[0].revents & Int16(POLLIN) != 0 {
                    let n = events.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
                    if n > 0 { handle(events, count: n) }
                }
                if let file { _ = dqlite_start_writeback(file.fd) }
            }
            forget()
            Glibc.close(inotify)
            Glibc.close(stopRead)
        }

        /// inotify_event records: wd, mask, cookie, len (4 bytes each), then a name of `len` bytes,
        /// NUL-padded.
        private func handle(_ events: [UInt8], count: Int) {
            var at = 0
            while at + 16 <= count {
                let mask = events.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self) }
                let length = Int(events.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self) })
                let name = String(decoding: events[(at + 16)..<min(count, at + 16 + length)].prefix { $0 != 0 }, as: UTF8.self)
                at += 16 + length
                if mask & UInt32(IN_CREATE) != 0, name.hasPrefix("tmp-snapshot-"), !name.hasSuffix(".meta") {
                    forget()
                    let fd = open(dir + "/" + name, O_RDONLY | O_CLOEXEC)
                    if fd >= 0 { file = (name, fd) }
                } else if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0, name == file?.name {
                    forget()
                }
            }
        }

        private func forget() {
            if let file { Glibc.close(file.fd) }
            file = nil
        }
    }
}
