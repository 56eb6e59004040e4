import CRaft

/// A snapshot handed to C-Raft as buffers that point at the database's own pages, not as an encoding: a
/// copy of every page had doubled a node's memory while a snapshot was stored (1.3 GB more at a 1.3 GB
/// database) and cost the pool thread a pass over all of it. C-Raft only reads the buffers (to compress them,
/// or to write them with writev) until `snapshot_finalize`, and this object keeps every array they point
/// into alive and unchanged until then: the view shares the VFS's page arrays, so the VFS copies a page
/// before writing to it (copy on write) and never writes to these.
final class SnapshotBuffers: Sendable {
    /// The pages and frames the buffers point into.
    let view: SnapshotView
    /// The headers and padding made for the encoding, which nothing else keeps.
    let made: [[UInt8]]
    /// How many buffers, and their bytes.
    let count: Int
    let bytes: Int

    /// Fills a `raft_malloc`'d array with the buffers (nil if it cannot be allocated).
    static func make(_ view: SnapshotView) -> (SnapshotBuffers, UnsafeMutablePointer<raft_buffer>)? {
        var pieces = 0
        view.forEachPiece { piece, _ in if !piece.isEmpty { pieces += 1 } }
        guard let array = raft_malloc(max(1, pieces) * MemoryLayout<raft_buffer>.stride)?
            .bindMemory(to: raft_buffer.self, capacity: max(1, pieces)) else { return nil }
        var made: [[UInt8]] = []
        var i = 0, bytes = 0
        view.forEachPiece { piece, isMade in
            guard !piece.isEmpty else { return }
            // The array's storage stays where it is while `made` or `view` holds the array and nothing
            // writes to it (see above); a pointer taken here is valid for that long.
            let base = piece.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
            array[i] = raft_buffer(base: base, len: piece.count)
            i += 1
            bytes += piece.count
            if isMade { made.append(piece) }
        }
        return (SnapshotBuffers(view: view, made: made, count: i, bytes: bytes), array)
    }

    private init(view: SnapshotView, made: [[UInt8]], count: Int, bytes: Int) {
        self.view = view
        self.made = made
        self.count = count
        self.bytes = bytes
    }
}
