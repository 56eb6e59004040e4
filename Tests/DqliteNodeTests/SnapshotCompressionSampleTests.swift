import XCTest
@testable import DqliteNode

final class SnapshotCompressionSampleTests: XCTestCase {
    private func view(_ databases: [[[UInt8]]]) -> SnapshotView {
        SnapshotView(databases: databases.enumerated().map { i, pages in
            SnapshotView.Database(name: "db\(i)", pageSize: 4096, pages: pages, walHeader: [], frames: [], walSize: 0)
        })
    }

    /// Pages of an LCG's high bytes: as incompressible as random ones, and the same on every run.
    private func randomPages(_ count: Int, seed: UInt32) -> [[UInt8]] {
        var x = seed
        return (0..<count).map { _ in (0..<4096).map { _ in x = x &* 1_664_525 &+ 1_013_904_223; return UInt8(x >> 24) } }
    }

    func testTextPagesAreWorthCompressingAndRandomOnesAreNot() throws {
        let text = [UInt8](String(repeating: "a row of text, ", count: 300).utf8.prefix(4096))
        let textRatio = try XCTUnwrap(SnapshotCompressionSample.ratio(of: view([Array(repeating: text, count: 300)])))
        XCTAssertLessThan(textRatio, SnapshotCompressionSample.worthIt)
        let random = randomPages(300, seed: 7)
        let randomRatio = try XCTUnwrap(SnapshotCompressionSample.ratio(of: view([random])))
        XCTAssertGreaterThan(randomRatio, 0.99)
    }

    /// The runs are spread over every database: two databases, one of text and one of random pages, sample
    /// about half of each.
    func testTheSampleSpansEveryDatabase() throws {
        let zeros = [UInt8](repeating: 0, count: 4096)
        let ratio = try XCTUnwrap(SnapshotCompressionSample.ratio(of: view([
            Array(repeating: zeros, count: 400), randomPages(400, seed: 9),
        ])))
        XCTAssertGreaterThan(ratio, 0.4)
        XCTAssertLessThan(ratio, 0.6)
    }

    func testASnapshotWithoutPagesHasNoRatio() {
        XCTAssertNil(SnapshotCompressionSample.ratio(of: view([])))
        XCTAssertNil(SnapshotCompressionSample.ratio(of: view([[]])))
        // A database smaller than one run is sampled whole.
        XCTAssertNotNil(SnapshotCompressionSample.ratio(of: view([[[UInt8](repeating: 1, count: 4096)]])))
    }
}
