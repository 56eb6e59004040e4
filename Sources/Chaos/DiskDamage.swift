import Foundation

/// Damage at rest to a stopped node's Raft files: its newest closed segment, its first open segment (the one
/// being written) or its newest snapshot, truncated or with bytes flipped. The choice comes from the plan's
/// `pick`, so a seed damages the same kind of file the same way.
enum DiskDamage {
    struct Done: Sendable {
        var file: String
        var kind: String
    }

    /// Where a node keeps its Raft files: `dir` itself (dqlite-node), or the folder below it that holds C-Raft's
    /// metadata files (go-dqlite's dqlite-demo keeps them in `dir/<address>/`).
    static func raftDirectory(under dir: String) -> String {
        let fm = FileManager.default
        func holdsRaft(_ d: String) -> Bool { fm.fileExists(atPath: d + "/metadata1") || fm.fileExists(atPath: d + "/metadata2") }
        if holdsRaft(dir) { return dir }
        var level = [dir]
        for _ in 0..<3 {
            var next: [String] = []
            for d in level {
                for name in ((try? fm.contentsOfDirectory(atPath: d)) ?? []).sorted() {
                    var isDir: ObjCBool = false
                    let path = d + "/" + name
                    guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { continue }
                    if holdsRaft(path) { return path }
                    next.append(path)
                }
            }
            level = next
        }
        return dir
    }

    static func apply(dir: String, pick: Int) -> Done {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let closed = names.filter { $0.range(of: #"^\d+-\d+$"#, options: .regularExpression) != nil }.sorted()
        let open = names.filter { $0.hasPrefix("open-") }.sorted { (Int($0.dropFirst(5)) ?? 0) < (Int($1.dropFirst(5)) ?? 0) }
        let snapshots = names.filter { $0.hasPrefix("snapshot-") && !$0.hasSuffix(".meta") }.sorted {
            $0.split(separator: "-").dropFirst(2).first.flatMap { Int($0) } ?? 0 < $1.split(separator: "-").dropFirst(2).first.flatMap { Int($0) } ?? 0
        }
        let choices = [closed.last, open.first, snapshots.last]
        guard let file = choices[pick % 3] ?? choices.compactMap({ $0 }).first else { return Done(file: "", kind: "nothing to damage") }
        let path = dir + "/" + file
        guard let handle = FileHandle(forUpdatingAtPath: path) else { return Done(file: file, kind: "unwritable") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard size > 0 else { return Done(file: file, kind: "empty") }
        if (pick / 3) % 2 == 0 {
            let keep = size * UInt64(30 + pick % 60) / 100
            try? handle.truncate(atOffset: keep)
            return Done(file: file, kind: "truncated to \(keep) of \(size) bytes")
        }
        // 16 bytes flipped somewhere in the first 64 KiB, where an open segment's entries are.
        let span = min(size, 64 * 1024)
        let at = UInt64(pick * 7919) % max(1, span - 16)
        try? handle.seek(toOffset: at)
        let old = handle.readData(ofLength: 16)
        try? handle.seek(toOffset: at)
        handle.write(Data(old.map { ~$0 }))
        return Done(file: file, kind: "16 bytes flipped at \(at) of \(size)")
    }
}
