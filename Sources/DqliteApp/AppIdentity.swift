import Foundation

/// The node id a data dir belongs to, kept in `<dir>/app-id` (decimal) so an app restarted on the same dir
/// is the same member.
enum AppIdentity {
    static func file(_ dir: String) -> String { dir + "/app-id" }

    /// The id kept in `dir`, if any.
    static func stored(in dir: String) throws(DqliteAppError) -> UInt64? {
        guard let text = try? String(contentsOfFile: file(dir), encoding: .utf8) else { return nil }
        guard let id = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), id > 0 else {
            throw .directory("\(file(dir)) does not hold a node id: '\(text.prefix(40))'")
        }
        return id
    }

    /// Writes `id` durably (file synced, then the directory) before the node first starts with it.
    static func store(_ id: UInt64, in dir: String) throws(DqliteAppError) {
        let path = file(dir)
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .directory("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array("\(id)\n".utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else { throw .directory("cannot write \(path)") }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// The id for this start: the kept one (which a given id must match), else the given one, else 1 for a
    /// node that bootstraps and a random one (never 1) for a node that joins.
    static func resolve(given: UInt64?, dir: String, bootstraps: Bool, hasState: Bool) throws(DqliteAppError) -> UInt64 {
        if let kept = try stored(in: dir) {
            if let given, given != kept { throw .directory("\(dir) belongs to node \(kept), not \(given)") }
            return kept
        }
        if hasState && given == nil { throw .directory("\(dir) holds Raft state but no app-id: give the node's id") }
        let id = given ?? (bootstraps ? 1 : UInt64.random(in: 2...UInt64(Int64.max)))
        try store(id, in: dir)
        return id
    }
}

public enum DqliteAppError: Error, Sendable, CustomStringConvertible {
    case directory(String)
    case node(String)
    case join(String)
    case notReady(String)

    public var description: String {
        switch self {
        case .directory(let m): "data directory: \(m)"
        case .node(let m): "node: \(m)"
        case .join(let m): "join: \(m)"
        case .notReady(let m): "not ready: \(m)"
        }
    }
}
