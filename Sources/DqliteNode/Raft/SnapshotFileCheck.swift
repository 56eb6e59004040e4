#if canImport(Glibc)
import Glibc
#endif
import CLZ4

/// Checks the snapshot files of a Raft directory before C-Raft loads them. C-Raft 0.15 compresses snapshots
/// as LZ4 frames and, given a truncated one, loops forever inside raft_start (found by the chaos test bed's
/// damage-at-rest scenario), so a node with a damaged snapshot would neither serve nor fail. Decoding each
/// compressed snapshot to its end first turns that into a clear refusal to start.
enum SnapshotFileCheck {
    /// Throws when the snapshot C-Raft will load is not a complete, intact LZ4 frame (when compressed).
    static func check(dir: String) throws(NodeError) {
        guard let entries = directoryEntries(dir), let name = loaded(among: entries) else { return }
        if let problem = problem(inFile: dir + "/" + name) {
            throw .system("snapshot \(dir)/\(name) is damaged (\(problem)); refusing to start. Move it (and its .meta) away to start from the previous snapshot, or recover the node from its peers")
        }
    }

    /// The data file of the snapshot C-Raft loads at a start and sends to followers: the latest by term,
    /// index and time of those with a metadata file (C-Raft's uvList and uvSnapshotInfoCompare). Only that one
    /// is checked: C-Raft never reads the older one it keeps, and decoding both had been a large part of a
    /// big database's restart (two 0.8 GB frames decompressed per node).
    static func loaded(among names: [String]) -> String? {
        let present = Set(names)
        var best: (key: [UInt64], name: String)?
        for meta in names where meta.hasPrefix("snapshot-") && meta.hasSuffix(".meta") {
            let data = String(meta.dropLast(5))
            let numbers = data.dropFirst(9).split(separator: "-").compactMap { UInt64($0) }
            guard numbers.count == 3, present.contains(data) else { continue }
            if best == nil || best!.key.lexicographicallyPrecedes(numbers) { best = (numbers, data) }
        }
        return best?.name
    }

    /// Why the file is not a complete LZ4 frame, or nil when it is (or is not compressed at all).
    static func problem(inFile path: String) -> String? {
        guard let bytes = readAll(path) else { return "cannot be read" }
        // LZ4 frame magic 0x184D2204, little-endian. An uncompressed snapshot is left to the FSM's decoder.
        guard bytes.count >= 4, bytes[0] == 0x04, bytes[1] == 0x22, bytes[2] == 0x4D, bytes[3] == 0x18 else { return nil }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            return "no LZ4 context"
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var output = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while true {
            var inSize = bytes.count - offset
            var outSize = output.count
            let hint = bytes.withUnsafeBytes { src in
                output.withUnsafeMutableBytes { dst in
                    LZ4F_decompress(context, dst.baseAddress, &outSize, src.baseAddress! + offset, &inSize, nil)
                }
            }
            if LZ4F_isError(hint) != 0 { return String(cString: LZ4F_getErrorName(hint)) }
            offset += inSize
            if hint == 0 { return offset == bytes.count ? nil : "\(bytes.count - offset) bytes after the end of the frame" }
            if inSize == 0 && outSize == 0 && offset >= bytes.count { return "truncated LZ4 frame" }
        }
    }

    static func readAll(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { out += chunk[..<n] }
            if n < chunk.count { return ferror(f) == 0 ? out : nil }
        }
    }

    static func directoryEntries(_ dir: String) -> [String]? {
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
