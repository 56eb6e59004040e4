/// How long a C-Raft leader waits for a follower's answer to an InstallSnapshot before giving up on it and
/// probing again. Until then it ignores the follower's rejections, so a follower that died while receiving
/// a snapshot stays behind for this long after it restarts: short is good. But sending, writing and loading
/// a big snapshot takes time, and a timeout shorter than that would resend it forever: so the timeout
/// grows with the snapshot, assuming a pessimistic 8 MiB/s end to end.
struct SnapshotInstallTimeout: Equatable {
    let baseMs: UInt32
    private(set) var snapshotBytes = 0

    init(baseMs: UInt32) { self.baseMs = baseMs }

    static let bytesPerMs = 8 * 1024 * 1024 / 1000

    var milliseconds: UInt32 {
        let extra = UInt64(snapshotBytes / Self.bytesPerMs)
        return UInt32(min(UInt64(UInt32.max), UInt64(baseMs) + extra))
    }

    /// Records a snapshot's size; true when the timeout changed by more than a tenth (worth telling Raft).
    mutating func note(snapshotBytes bytes: Int) -> Bool {
        let before = UInt64(milliseconds)
        snapshotBytes = max(0, bytes)
        let after = UInt64(milliseconds)
        return after > before + before / 10 || after < before - before / 10
    }
}
