import XCTest
import Foundation
import LocalCluster
@testable import DqliteNode

/// `n` of our nodes inside the test process, each with its own loop thread and Raft dir, bootstrapped with
/// one configuration of `n` voters and talking Raft over loopback. Stopped and removed at teardown.
func startInProcessCluster(_ test: XCTestCase, nodes n: Int = 3, settings: NodeSettings) async throws -> [Node] {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-nodes-\(UUID().uuidString)").path
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
    var voters: [(UInt64, String)] = []
    for i in 1...n { voters.append((UInt64(i), "127.0.0.1:\(try freeLoopbackPort())")) }
    var nodes: [Node] = []
    for (id, address) in voters {
        let dir = root + "/node\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        nodes.append(try await Node(id: id, address: address, dir: dir, bootstrap: voters, settings: settings))
    }
    let all = nodes
    test.addTeardownBlock { for node in all { await node.stop() } }
    return nodes
}
