import XCTest
import CRaft
import Synchronization
@testable import DqliteNode

/// A snapshot's encoding is freed on another thread than the one that hands it over (the loop thread).
final class OffLoopReleaseTests: XCTestCase {
    /// Every raft_free made while the test heap is installed: the pointer and the freeing thread.
    private static let frees = Mutex<[(pointer: UInt, thread: UInt)]>([])

    func testBuffersAreFreedWithRaftFreeOnAnotherThread() async throws {
        let heap = UnsafeMutablePointer<raft_heap>.allocate(capacity: 1)
        heap.initialize(to: raft_heap())
        heap.pointee.malloc = { _, size in malloc(size) }
        heap.pointee.free = { _, pointer in
            OffLoopReleaseTests.frees.withLock { $0.append((UInt(bitPattern: pointer), UInt(pthread_self()))) }
            free(pointer)
        }
        heap.pointee.calloc = { _, count, size in calloc(count, size) }
        heap.pointee.realloc = { _, pointer, size in realloc(pointer, size) }
        heap.pointee.aligned_alloc = { _, alignment, size in aligned_alloc(alignment, size) }
        heap.pointee.aligned_free = { _, _, pointer in free(pointer) }
        raft_heap_set(heap)
        defer {
            raft_heap_set_default()
            heap.deallocate()
        }
        let buffers = (0..<3).map { _ in raft_malloc(8 << 20)! }
        let wanted = Set(buffers.map { UInt(bitPattern: $0) })
        OffLoopRelease.free(buffers)
        let caller = UInt(pthread_self())
        let deadline = ContinuousClock.now + .seconds(10)
        var seen: [(pointer: UInt, thread: UInt)] = []
        while ContinuousClock.now < deadline {
            seen = Self.frees.withLock { $0.filter { wanted.contains($0.pointer) } }
            if seen.count == wanted.count { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTAssertEqual(Set(seen.map(\.pointer)), wanted, "every buffer is freed, once")
        XCTAssertEqual(seen.count, wanted.count)
        XCTAssertFalse(seen.contains { $0.thread == caller }, "freed on the caller's thread")
    }
}
