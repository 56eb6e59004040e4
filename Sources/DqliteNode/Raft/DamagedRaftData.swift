#if canImport(Glibc)
import Glibc
#endif

/// A node whose Raft files are damaged at rest (a snapshot, a closed segment, or an open segment with
/// intact batches after a damaged one) or that was already catching up: it does not refuse to start, and it
/// does not serve or vote with data it no longer has. Its log and snapshots move to `damaged-<time>/` in
/// the data dir (kept for the operator, never deleted); `metadata1`/`metadata2` stay, so it remembers its
/// term and vote and cannot vote twice in one. It starts with an empty log, is caught up by the leader
/// (entries or a snapshot), and holds its vote until then (`RaftReceiveFilter`). The `catching-up` marker
/// makes that survive restarts until it is caught up.
enum DamagedRaftData {
    static let marker = "catching-up"

    /// The damage found in `dir`, or nil. `segmentSize` is the size open segments are preallocated with.
    static func inspect(dir: String, segmentSize: Int) -> String? {
        guard let names = SnapshotFileCheck.directoryEntries(dir) else { return nil }
        let loadedSnapshot = SnapshotFileCheck.loaded(among: names)
        for name in names.sorted() {
            let path = dir + "/" + name
            if name == loadedSnapshot {
                if let problem = SnapshotFileCheck.problem(inFile: path) { return "snapshot \(name): \(problem)" }
            } else if isClosedSegment(name) {
                guard let bytes = SnapshotFileCheck.readAll(path) else { return "segment \(name) cannot be read" }
                if let problem = SegmentFileCheck.closedProblem(bytes) { return "segment \(name): \(problem)" }
            } else if name.hasPrefix("open-") {
                guard let bytes = SnapshotFileCheck.readAll(path) else { return "segment \(name) cannot be read" }
                if let problem = SegmentFileCheck.openProblem(bytes, expectedSize: segmentSize) { return "segment \(name): \(problem)" }
            }
        }
        return nil
    }

    /// Moves every segment and snapshot of `dir` into a new `damaged-<unix time>` folder and marks the node
    /// as catching up (both made durable). Returns the folder.
    static func quarantine(dir: String, reason: String) throws(NodeError) -> String {
        let aside = "\(dir)/damaged-\(time(nil))"
        guard mkdir(aside, 0o755) == 0 || errno == EEXIST else { throw .system("cannot create \(aside): \(String(cString: strerror(errno)))") }
        for name in SnapshotFileCheck.directoryEntries(dir) ?? [] where isClosedSegment(name) || name.hasPrefix("open-") || name.hasPrefix("snapshot-") {
            guard rename("\(dir)/\(name)", "\(aside)/\(name)") == 0 else {
                throw .system("cannot move \(dir)/\(name) aside: \(String(cString: strerror(errno)))")
            }
        }
        try write(dir + "/" + marker, "damaged Raft data moved to \(aside): \(reason)\n")
        syncDirectory(aside)
        syncDirectory(dir)
        return aside
    }

    static func isCatchingUp(dir: String) -> Bool { access(dir + "/" + marker, F_OK) == 0 }

    /// The node holds every entry it had again (see `RaftReceiveFilter`): it may vote.
    static func caughtUp(dir: String) {
        unlink(dir + "/" + marker)
        syncDirectory(dir)
    }

    private static func isClosedSegment(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    private static func write(_ path: String, _ text: String) throws(NodeError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .system("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw .system("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
