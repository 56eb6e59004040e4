import XCTest
import Foundation
import DqliteClient
import DqliteWire
import LocalCluster

/// Damage at rest, with real node processes: a node whose Raft files were damaged while it was down comes
/// back from its peers (holding its vote until caught up) with a copy identical to theirs; when a majority
/// lost its data, the nodes say so plainly and name the recovery command.
final class DamageRecoveryProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    private func startCluster() async throws -> ProcessCluster {
        // Small snapshots and segments: the damaged node has a snapshot, closed segments and an open one.
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(
            executable: nodeBinary, arguments: ["--snapshot-threshold", "64", "--snapshot-trailing", "64", "--snapshot-log-ratio", "0", "--segment-size", "1"]))
        addTeardownBlock { await cluster.stop() }
        return cluster
    }

    private func write(_ cluster: ProcessCluster, rows: Range<Int>) async throws {
        var config = ClientConfig()
        config.leaderTimeout = .seconds(30)
        let db = try await DqliteClient(addresses: cluster.addresses, config: config).open("demo")
        try await db.exec("CREATE TABLE IF NOT EXISTS k (n INTEGER PRIMARY KEY, b BLOB)")
        for n in rows { try await db.exec("INSERT INTO k VALUES (?, randomblob(3000))", [.integer(Int64(n))]) }
    }

    /// Flips 16 bytes of every Raft file of `dir` (segments and snapshots) near its start, where entries are.
    private func damage(_ dir: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasPrefix("open-") || $0.hasPrefix("snapshot-") && !$0.hasSuffix(".meta") || $0.range(of: #"^\d+-\d+$"#, options: .regularExpression) != nil
        }
        for name in names {
            let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: dir + "/" + name))
            try handle.seek(toOffset: 200)
            let old = handle.readData(ofLength: 16)
            try handle.seek(toOffset: 200)
            handle.write(Data(old.map { ~$0 }))
            try handle.close()
        }
        return names
    }

    private func image(_ address: String, rows: Int) async throws -> [UInt8]? {
        guard let node = try? await DqliteClient(addresses: [address]).node(address) else { return nil }
        defer { node.close() }
        guard let files = try? await node.dump(database: "demo"), try NodeProcessTests.countRows(files) == rows else { return nil }
        return try NodeProcessTests.checkpointedImage(files)
    }

    func testANodeWithDamagedFilesCatchesUpFromItsPeersAndEndsIdentical() async throws {
        let cluster = try await startCluster()
        try await write(cluster, rows: 0..<400)
        let leader = try await cluster.leaderIndex()
        let victim = (leader + 1) % 3
        await cluster.kill(victim)
        let damaged = try damage(await cluster.directory(victim))
        XCTAssertTrue(damaged.contains { $0.hasPrefix("open-") } && damaged.contains { $0.hasPrefix("snapshot-") }, "\(damaged)")
        try await write(cluster, rows: 400..<500)
        try await cluster.launch(victim)
        let address = cluster.addresses[victim]
        var copy: [UInt8]?
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, copy == nil {
            copy = try await image(address, rows: 500)
            if copy == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let log = await cluster.log(victim)
        XCTAssertTrue(log.contains("Raft data damaged"), log)
        let theirs = try await image(cluster.addresses[leader], rows: 500)
        XCTAssertNotNil(copy, "the damaged node caught up: \(log)")
        XCTAssertTrue(copy == theirs, "its copy is the leader's, byte for byte")
        // It votes again once caught up, and the damaged files are kept aside.
        let caughtUp = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < caughtUp, !(await cluster.log(victim)).contains("voting again") { try await Task.sleep(for: .milliseconds(200)) }
        let finalLog = await cluster.log(victim)
        XCTAssertTrue(finalLog.contains("voting again"), finalLog)
        let dir = await cluster.directory(victim)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/catching-up"))
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("damaged-") }
        XCTAssertEqual(kept.count, 1)
        // And it is a voter that counts: with the old leader gone, it and the third node elect one.
        await cluster.kill(leader)
        try await write(cluster, rows: 500..<510)
    }

    func testWhenAMajorityLostItsDataTheNodesNameTheRecoveryCommand() async throws {
        let cluster = try await startCluster()
        try await write(cluster, rows: 0..<300)
        let leader = try await cluster.leaderIndex()
        // The leader and one follower: the other follower has the data but no vote to be elected with.
        let victims = [leader, (leader + 1) % 3]
        for v in victims { await cluster.kill(v) }
        for v in victims { _ = try damage(await cluster.directory(v)) }
        for v in victims { try await cluster.launch(v) }
        let deadline = ContinuousClock.now + .seconds(40)
        var logs: [String] = []
        while ContinuousClock.now < deadline {
            logs = []
            for v in victims { logs.append(await cluster.log(v)) }
            if logs.allSatisfy({ $0.contains("cannot recover from peers") }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        XCTAssertTrue(logs.allSatisfy { $0.contains("cannot recover from peers") && $0.contains("dqlite-node recover --id") },
                      logs.joined(separator: "\n---\n"))
        // Neither serves: no leader was elected from data they do not have.
        XCTAssertTrue(logs.allSatisfy { $0.contains("holds its vote") })
    }
}
