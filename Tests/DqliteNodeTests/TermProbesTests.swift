import XCTest
import Foundation
import DqliteClient
import DqliteWire
import LocalCluster
@testable import DqliteNode

/// The term probes behind linearizable reads, against real node processes: a node answers HEARTBEAT with
/// its Raft term and how long it will still refuse votes, and a round confirms a term only when enough
/// voters report that term or an older one.
final class TermProbesTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }

    func testVotersReportTheirTermAndARoundConfirmsOnlyACurrentOne() async throws {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: nodeBinary))
        addTeardownBlock { await cluster.stop() }
        let leaderIndex = try await cluster.leaderIndex()
        let followers = cluster.addresses.indices.filter { $0 != leaderIndex }.map { cluster.addresses[$0] }
        let node = try await NodeClient.connect(to: followers[0])
        defer { node.close() }
        let before = UInt64(ProcessInfo.processInfo.systemUptime * 1000)
        guard case .termProbe(let term, let sticky, let clock) = try await node.connection.call(.heartbeat(timestamp: 0), timeout: .seconds(5)) else {
            return XCTFail("HEARTBEAT is answered with METADATA carrying the term, the vote-refusal time and the clock")
        }
        XCTAssertGreaterThanOrEqual(term, 1)
        // The voter's monotonic clock (ms), which on one host reads as this process's uptime clock does.
        XCTAssertEqual(Double(clock), Double(before), accuracy: 2000, "the voter's CLOCK_MONOTONIC")
        // A follower of a live leader refuses votes until its randomized election timeout (1000-2000 ms in
        // these clusters) runs out without a heartbeat (one every 100 ms), and promises half an election
        // timeout of that at most (ReadLease.promiseMs).
        XCTAssertTrue((400...500).contains(sticky), "\(sticky) ms")

        let probes = TermProbes(timeout: .seconds(2))
        defer { probes.close() }
        let peers = followers
        let current = await probes.confirm(term: term, peers: peers, needed: 1, slot: 0)
        XCTAssertTrue(current.confirmed, "voters in this term confirm it")
        XCTAssertTrue((400...500).contains(current.leaseMs), "a majority's promise: \(current.leaseMs) ms")
        let older = await probes.confirm(term: term - 1, peers: peers, needed: 1, slot: 1)
        XCTAssertFalse(older.confirmed, "a leader of an older term is not confirmed: the voters have moved on")
        XCTAssertEqual(older.leaseMs, 0)
        let unreachable = await probes.confirm(term: term, peers: ["127.0.0.1:1"], needed: 1, slot: 0)
        XCTAssertFalse(unreachable.confirmed)
        // A voter cut off by a partition answers nothing until the probe's timeout: a round that has heard
        // enough must not wait for it (it did, for the whole timeout, so reads stalled through partitions).
        let silent = try SilentListener()
        defer { silent.close() }
        let started = ContinuousClock.now
        let partial = await probes.confirm(term: term, peers: [silent.address, followers[0]], needed: 1, slot: 2)
        XCTAssertTrue(partial.confirmed)
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(1000), "decided without the silent voter (timeout 2 s)")
        let again = await probes.confirm(term: term, peers: [silent.address, followers[0]], needed: 1, slot: 2)
        XCTAssertTrue(again.confirmed, "its ask still running, the silent voter counts as not answering")
        let none = await probes.confirm(term: term, peers: [], needed: 0, slot: 0)
        XCTAssertTrue(none.confirmed, "a single voter needs no one else")

        // The leader itself follows no one: it promises nothing.
        let leader = try await NodeClient.connect(to: cluster.addresses[leaderIndex])
        defer { leader.close() }
        guard case .termProbe(_, let leaderSticky, _) = try await leader.connection.call(.heartbeat(timestamp: 0), timeout: .seconds(5)) else {
            return XCTFail("the leader answers too")
        }
        XCTAssertEqual(leaderSticky, 0)
    }
}

/// A TCP listener on loopback that accepts connections and never answers: a peer behind a partition, as a
/// prober sees it once connected.
final class SilentListener: Sendable {
    let fd: Int32
    let address: String

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw LocalClusterError.system("listen", errno) }
        var out = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &out) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        address = "127.0.0.1:\(UInt16(bigEndian: out.sin_port))"
    }

    func close() { Glibc.close(fd) }
}
