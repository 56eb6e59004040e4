/// The wal-index (shm) header in region 0, which SQLite's readers trust to say how much of the WAL is valid
/// (reference/sqlite-wal.md §2). The replicating VFS rewrites it to hide a transaction until Raft commits it,
/// and spoils it on followers so that readers rebuild it from the WAL.
enum WALIndex {
    static let regionSize = 32 * 1024
    static let headerCopySize = 48

    // Offsets in a header copy (native byte order).
    static let iVersion = 0, isInit = 12, bigEndCksum = 13, mxFrame = 16, nPage = 20, aFrameCksum = 24, aCksum = 40

    /// Rewrites the header so that readers see exactly `frames` WAL frames, a database of `pages` pages and
    /// `frameChecksum` as the last frame's checksum. Does nothing to an index SQLite has not initialised.
    static func amend(_ region: UnsafeMutableRawPointer, frames: UInt32, pages: UInt32, frameChecksum: (UInt32, UInt32)) {
        guard region.load(fromByteOffset: isInit, as: UInt8.self) == 1 else { return }
        region.storeBytes(of: frames, toByteOffset: mxFrame, as: UInt32.self)
        region.storeBytes(of: pages, toByteOffset: nPage, as: UInt32.self)
        region.storeBytes(of: frameChecksum.0, toByteOffset: aFrameCksum, as: UInt32.self)
        region.storeBytes(of: frameChecksum.1, toByteOffset: aFrameCksum + 4, as: UInt32.self)
        let sum = WALFormat.checksum(UnsafeRawBufferPointer(start: region, count: aCksum), native: true, seed: (0, 0))
        region.storeBytes(of: sum.0, toByteOffset: aCksum, as: UInt32.self)
        region.storeBytes(of: sum.1, toByteOffset: aCksum + 4, as: UInt32.self)
        // Copy 2 mirrors copy 1; readers accept the header only when both agree.
        (region + headerCopySize).copyMemory(from: region, byteCount: headerCopySize)
    }

    /// Makes the two header copies disagree, so the next reader runs recovery from the WAL file.
    static func invalidate(_ region: UnsafeMutableRawPointer) {
        region.storeBytes(of: 1, toByteOffset: 0, as: UInt8.self)
        region.storeBytes(of: 0, toByteOffset: headerCopySize, as: UInt8.self)
    }
}
