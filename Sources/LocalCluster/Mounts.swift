#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Small filesystems mounted on node data dirs (full-disk faults need a disk that can fill up), and their
/// removal with the cluster, also after a failure or Ctrl-C.
public enum Mounts {
    public enum Failure: Error, CustomStringConvertible {
        case mount(String, String)
        public var description: String {
            switch self { case let .mount(dir, why): "cannot mount a tmpfs on \(dir): \(why) (full-disk faults need root)" }
        }
    }

    /// Mounts a tmpfs of `bytes` on `dir` (which must exist).
    public static func mountTmpfs(on dir: String, bytes: Int) throws {
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, "size=\(bytes),mode=0755") == 0 else {
            throw Failure.mount(dir, String(cString: strerror(errno)))
        }
    }

    /// Whether a filesystem whose type begins with `type` ("fuse", "tmpfs") is mounted on `point`.
    public static func isMounted(_ point: String, type: String) -> Bool {
        let table = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == point && fields[2].hasPrefix(type)
        }
    }

    /// Detaches every mount at or below `root` (deepest first), lazily, so busy ones go too.
    public static func detachAll(under root: String) {
        let table = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let prefix = root.hasSuffix("/") ? root : root + "/"
        let points = table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            // /proc/self/mounts escapes spaces and a few others as octal.
            let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            return point == root || point.hasPrefix(prefix) ? point : nil
        }
        for point in points.sorted(by: { $0.count > $1.count }) { _ = umount2(point, Int32(MNT_DETACH)) }
    }
}
