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

    /// Why the file is not a complete LZ4 frame, or nil when it is (or is not compressed at all). The file is
    /// decoded as it is read, 1 MiB at a time: read whole into a growing array first, a 1.2 GB snapshot had
    /// cost 2 GB of memory and most of a restart's check.
    static func problem(inFile path: String) -> String? {
        guard let f = fopen(path, "rb") else { return "cannot be read" }
        defer { fclose(f) }
        var input = [UInt8](repeating: 0, count: 1 << 20)
        var output = [UInt8](repeating: 0, count: 1 << 20)
        func fill() -> Int? {
            let n = input.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            return n == 0 && ferror(f) != 0 ? nil : n
        }
        guard var filled = fill() else { return "cannot be read" }
        // LZ4 frame magic 0x184D2204, little-endian. An uncompressed snapshot is left to the FSM's decoder.
        guard filled >= 4, input[0] == 0x04, input[1] == 0x22, input[2] == 0x4D, input[3] == 0x18 else { return nil }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            return "no LZ4 context"
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var ended = false
        while filled > 0 {
            var offset = 0
            while offset < filled {
                if ended {
                    var after = filled - offset
                    while let more = fill(), more > 0 { after += more }
                    return "\(after) bytes after the end of the frame"
                }
                var inSize = filled - offset
                var outSize = output.count
                let hint = input.withUnsafeBytes { src in
                    output.withUnsafeMutableBytes { dst in
                        LZ4F_decompress(context, dst.baseAddress, &outSize, src.baseAddress! + offset, &inSize, nil)
                    }
                }
                if LZ4F_isError(hint) != 0 { return String(cString: LZ4F_getErrorName(hint)) }
                if inSize == 0 && outSize == 0 { return "LZ4 frame decoding made no progress" }
                offset += inSize
                if hint == 0 { ended = true }
            }
            guard let next = fill() else { return "cannot be read" }
            filled = next
        }
        return ended ? nil : "truncated LZ4 frame"
    }

    /// The whole file, read into an array of its size (nil if it cannot be read).
    static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failed = n < 0; break }
                count += n
            }
        }
        return failed ? nil : bytes
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
