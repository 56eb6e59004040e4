import XCTest
import Foundation
import LocalCluster

final class ProcessClusterTests: XCTestCase {
    /// A cluster starts with every node a voter, and stop leaves no process and no file behind.
    func testStopKillsEveryNodeAndRemovesItsFiles() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3)
        var pids: [Int32] = []
        for i in 0..<3 { if let p = await cluster.pid(i) { pids.append(p) } }
        XCTAssertEqual(pids.count, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cluster.root))
        await cluster.stop()
        for pid in pids { XCTAssertNotEqual(kill(pid, 0), 0, "pid \(pid) still exists") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.root))
    }

    func testFreePortsAreUsable() throws {
        let ports = try (0..<20).map { _ in try freeLoopbackPort() }
        XCTAssertTrue(ports.allSatisfy { $0 > 0 })
    }
}
