import CMalloc

/// How a node's process asks glibc's malloc to give memory back (DqliteApp applies it unless told not to).
public enum MallocPolicy {
    /// Allocations of at least this many bytes are mapped on their own and unmapped when freed.
    public static let mmapThreshold: Int32 = 4 << 20

    /// glibc starts with a 128 KiB mmap threshold but raises it (up to 32 MiB) each time a mapped block is
    /// freed. After the first snapshot, the next snapshot's compression buffers and big log entries (tens of
    /// MB, made and freed on libuv's pool threads) come from per-thread arenas that keep the freed memory:
    /// measured here as 150-180 MB of RSS per node beyond the data after a write benchmark. A fixed threshold
    /// stops the adjustment. A threshold the user set through GLIBC_TUNABLES is left alone.
    public static func apply(environment: [String: String]) -> Bool {
        if let tunables = environment["GLIBC_TUNABLES"], tunables.contains("malloc.mmap_threshold") { return false }
        return mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1
    }
}
