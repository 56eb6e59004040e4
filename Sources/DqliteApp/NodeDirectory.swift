import Foundation

/// A node's data directory, locked against a second node (flock on a lock file inside it).
public struct NodeDirectory: Sendable {
    let fd: Int32

    /// Whether the directory holds Raft state already (C-Raft's metadata files).
    public static func hasState(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: dir + "/metadata1") || FileManager.default.fileExists(atPath: dir + "/metadata2")
    }

    public static func lock(_ dir: String) throws -> NodeDirectory {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw NodeDirectoryError("cannot create \(dir): \(error.localizedDescription)")
            }
            // A new directory's own name is durable only once its parent is synced: without this, a power
            // loss soon after the first start could take the whole data dir (go-dqlite's demo loses it so).
            syncParent(of: dir)
        } else if !isDir.boolValue {
            throw NodeDirectoryError("\(dir) is not a directory")
        }
        guard access(dir, W_OK) == 0 else { throw NodeDirectoryError("\(dir) is not writable") }
        let fd = open(dir + "/dqlite-node.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NodeDirectoryError("cannot create the lock file in \(dir): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw NodeDirectoryError("\(dir) is in use by another running node")
        }
        return NodeDirectory(fd: fd)
    }

    private static func syncParent(of dir: String) {
        let parent = (dir as NSString).deletingLastPathComponent
        let fd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    public func unlock() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

public struct NodeDirectoryError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
