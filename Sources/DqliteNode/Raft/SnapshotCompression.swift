import CLZ4

/// Whether snapshots are written LZ4-compressed. C-Raft 0.15 compresses a snapshot into one buffer of the
/// whole state's bound, held beside the pages while the file is written, and spends about 2 s of a core per
/// GB doing it. For pages that compress well (text, free space) that buys a much smaller file. For pages
/// that do not (random or already compressed values) it bought little: a 1.3 GB database of random 1 KiB
/// rows compressed to 77%, and cost a 1 GB buffer on every node at every snapshot (peak 3.3-3.5 GB against
/// 2.1-2.3 uncompressed, load 31-37 s against 23; `harness/big_db_bench.py`). `auto` decides per snapshot
/// from a sample of its pages. It is not the default because the LZ4 frame's checksum is the only one a
/// snapshot has: a start finds a damaged compressed snapshot (`SnapshotFileCheck`) and recovers the node from
/// its peers, while damage at rest in an uncompressed one would be loaded as data.
public enum SnapshotCompression: String, Sendable, CaseIterable {
    /// Always (the default, as C-Raft's and dqlite's; dqlite_node_set_snapshot_compression).
    case on
    /// Never.
    case off
    /// When a sample of the snapshot's pages shrinks to `SnapshotCompressionSample.worthIt` or less.
    /// Until a node's first snapshot is sampled (a snapshot it installs from its leader first) it does not
    /// compress.
    case auto
}

/// The compressed share of a sample of a snapshot's pages: `runs` runs of `pagesPerRun` consecutive pages
/// spread evenly over all the databases' pages and WAL frames (until a checkpoint, the latest writes are
/// only in the WAL), each run compressed as one LZ4 block (C-Raft compresses a
/// snapshot as an LZ4 frame of 64 KiB-or-larger blocks, so a run of pages compresses about as its share of
/// the frame would). 512 KiB at most: about a millisecond.
enum SnapshotCompressionSample {
    /// Compress when the sample shrinks to half or less: then the file and its write are at least halved,
    /// and the buffer C-Raft holds beside the pages is at most half the state.
    static let worthIt = 0.5

    static func ratio(of view: SnapshotView, runs: Int = 16, pagesPerRun: Int = 8) -> Double? {
        let total = view.databases.reduce(0) { $0 + $1.pages.count + $1.frames.count }
        guard total > 0 else { return nil }
        var original = 0, compressed = 0
        var run: [UInt8] = []
        var output: [UInt8] = []
        let step = max(pagesPerRun, total / runs)
        var start = 0
        while start < total {
            run.removeAll(keepingCapacity: true)
            var index = start
            // The run's pages, which may span the end of one database and the start of the next.
            for _ in 0..<pagesPerRun where index < total {
                run.append(contentsOf: page(index, of: view))
                index += 1
            }
            let bound = Int(LZ4_compressBound(Int32(run.count)))
            if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
            let size = run.withUnsafeBytes { source in
                output.withUnsafeMutableBytes { destination in
                    LZ4_compress_default(source.baseAddress!.assumingMemoryBound(to: CChar.self),
                                         destination.baseAddress!.assumingMemoryBound(to: CChar.self),
                                         Int32(source.count), Int32(destination.count))
                }
            }
            original += run.count
            // 0 is a failure to compress (it cannot happen with a bound-sized output): count it as no gain.
            compressed += size > 0 ? Int(size) : run.count
            start += step
        }
        return original > 0 ? Double(compressed) / Double(original) : nil
    }

    /// The database pages and then the WAL frames' pages of each database in turn.
    private static func page(_ index: Int, of view: SnapshotView) -> [UInt8] {
        var index = index
        for database in view.databases {
            if index < database.pages.count { return database.pages[index] }
            index -= database.pages.count
            if index < database.frames.count { return database.frames[index].page }
            index -= database.frames.count
        }
        return []
    }
}
