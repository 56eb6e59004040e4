import XCTest
import Synchronization
@testable import DqliteNode

/// A stored snapshot's pages are let go of on another thread than the one that hands them over (the loop thread).
final class OffLoopReleaseTests: XCTestCase {
    /// The threads on which `Held` objects were deinitialised.
    private static let deinitThreads = Mutex<[UInt]>([])

    private final class Held {
        let pages = [UInt8](repeating: 1, count: 8 << 20)
        deinit { OffLoopReleaseTests.deinitThreads.withLock { $0.append(UInt(pthread_self())) } }
    }

    func testTheLastReferenceIsDroppedOnAnotherThread() async throws {
        OffLoopRelease.release(Held())
        let caller = UInt(pthread_self())
        let deadline = ContinuousClock.now + .seconds(10)
        var seen: [UInt] = []
        while ContinuousClock.now < deadline {
            seen = Self.deinitThreads.withLock { $0 }
            if !seen.isEmpty { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTAssertEqual(seen.count, 1, "the object is deinitialised, once")
        XCTAssertFalse(seen.contains(caller), "deinitialised on the caller's thread")
    }
}
