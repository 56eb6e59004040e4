import DqliteClient
import DqliteWire
import Foundation
import LocalCluster
import XCTest

/// Automatic roles with real processes: seven `dqlite-node --auto-roles` (built on DqliteApp) in three
/// failure domains settle at 3 voters, 3 stand-bys and 1 spare, one voter and one stand-by per domain; a
/// voter SIGKILLed is replaced by the stand-by of its domain within the bound.
final class AppRolesProcessTests: XCTestCase {
    private var nodeBinary: String { CommandRunner.productsDirectory + "/dqlite-node" }
    /// Node i's failure domain: 1, 2, 3, 1, 2, 3, 1.
    private static func domain(_ index: Int) -> Int { index % 3 + 1 }
    private func domain(_ index: Int) -> Int { Self.domain(index) }
    private let unreachableMs = 2000, intervalMs = 500

    /// Seven `dqlite-node --auto-roles` in failure domains 1, 2, 3, 1, 2, 3, 1; stopped at teardown.
    private func startSevenNodes() async throws -> ProcessCluster {
        let cluster = try await ProcessCluster.start(
            nodes: 7, kind: .swiftNode(executable: nodeBinary, arguments: ["--auto-roles", "--unreachable-after", String(unreachableMs),
                                                                          "--roles-interval", String(intervalMs)]),
            nodeFlags: { ["--failure-domain", String(Self.domain($0))] })
        addTeardownBlock { await cluster.stop() }
        return cluster
    }

    private func settled(_ members: [NodeInfo], addresses: [String]) -> Bool {
        let voters = members.filter { $0.knownRole == .voter }, standBys = members.filter { $0.knownRole == .standBy }
        func domains(_ ms: [NodeInfo]) -> Set<Int> { Set(ms.compactMap { m in addresses.firstIndex(of: m.address).map(domain) }) }
        return members.count == 7 && voters.count == 3 && standBys.count == 3 && domains(voters).count == 3 && domains(standBys).count == 3
    }

    func testSevenNodesSettleSpreadOverDomainsAndAKilledVoterIsReplacedWithinTheBound() async throws {
        let cluster = try await startSevenNodes()
        let addresses = await cluster.addresses
        let client = try DqliteClient(addresses: addresses)
        var members: [NodeInfo] = []
        let settleDeadline = ContinuousClock.now + .seconds(30)
        while true {
            members = (try? await client.cluster()) ?? []
            if settled(members, addresses: addresses) { break }
            guard ContinuousClock.now < settleDeadline else {
                return XCTFail("not settled in 30 s: \(members.map { "\($0.id)@d\(addresses.firstIndex(of: $0.address).map(domain) ?? 0) \($0.knownRole?.description ?? "?")" })")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(members.filter { $0.knownRole == .spare }.count, 1)

        // SIGKILL a voter that does not lead; the stand-by of its domain takes its place.
        let leader = try await cluster.leaderIndex()
        let victim = try XCTUnwrap(members.first { $0.knownRole == .voter && $0.address != addresses[leader] })
        let victimIndex = try XCTUnwrap(addresses.firstIndex(of: victim.address))
        let replacement = try XCTUnwrap(members.first { $0.knownRole == .standBy && addresses.firstIndex(of: $0.address).map(domain) == domain(victimIndex) })
        let killed = ContinuousClock.now
        await cluster.kill(victimIndex, signal: SIGKILL)
        let bound = Duration.milliseconds(unreachableMs + 2 * intervalMs) + .seconds(3)
        while true {
            members = (try? await client.cluster()) ?? members
            let voters = members.filter { $0.knownRole == .voter }.map(\.id)
            if voters.count == 3 && !voters.contains(victim.id) { break }
            guard ContinuousClock.now - killed < bound + .seconds(10) else { return XCTFail("voter \(victim.id) not replaced: \(members)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let took = ContinuousClock.now - killed
        print("voter replaced \(took) after SIGKILL (unreachable after \(unreachableMs) ms, roles every \(intervalMs) ms)")
        XCTAssertLessThan(took, bound, "replacement took longer than unreachable-after + 2 intervals + 3 s")
        XCTAssertTrue(members.contains { $0.id == replacement.id && $0.knownRole == .voter },
                      "the stand-by of the lost voter's domain should replace it: \(members)")
        XCTAssertEqual(members.first { $0.id == victim.id }?.knownRole, .spare)
    }

    /// Every node stopped with SIGTERM (handover: leadership, then its role to an online member) and started
    /// again, one after another, while a client writes: no write fails, and the cluster is back at 3/3/1.
    func testARollingRestartOfAllSevenWithHandoverFailsNoWrite() async throws {
        let cluster = try await startSevenNodes()
        let addresses = await cluster.addresses
        let client = try DqliteClient(addresses: addresses)
        try await waitUntilSettled(client, addresses: addresses, within: .seconds(30))
        let db = try await client.open("rolling")
        try await db.exec("CREATE TABLE t (n INTEGER)")

        let writer = Task { () -> (ok: Int, failed: [String]) in
            var ok = 0, failed: [String] = []
            while !Task.isCancelled {
                do {
                    try await db.exec("INSERT INTO t VALUES (?)", [.integer(Int64(ok))])
                    ok += 1
                } catch {
                    failed.append("\(error)")
                }
            }
            return (ok, failed)
        }
        var stops: [Duration] = []
        for i in 0..<7 {
            let t0 = ContinuousClock.now
            await cluster.kill(i, signal: SIGTERM)
            stops.append(ContinuousClock.now - t0)
            try await cluster.launch(i)
            try await waitUntilSettled(client, addresses: addresses, within: .seconds(30), answering: addresses[i])
        }
        writer.cancel()
        let (ok, failed) = await writer.value
        print("rolling restart of 7: \(ok) writes, \(failed.count) failed; stops took \(stops.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 })")
        XCTAssertEqual(failed, [], "writes failed during the rolling restart")
        XCTAssertGreaterThan(ok, 50)
        let count = try await client.open("rolling").queryAll("SELECT count(*) FROM t").rows
        XCTAssertEqual(count, [[.integer(Int64(ok))]])
    }

    private func waitUntilSettled(_ client: DqliteClient, addresses: [String], within: Duration, answering: String? = nil) async throws {
        let deadline = ContinuousClock.now + within
        var members: [NodeInfo] = []
        while ContinuousClock.now < deadline {
            members = (try? await client.cluster()) ?? []
            var up = true
            if let answering { up = (try? await client.node(answering).describe()) != nil }
            if up && settled(members, addresses: addresses) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("not settled in \(within): \(members.map { "\($0.id)@d\(addresses.firstIndex(of: $0.address).map(domain) ?? 0) \($0.knownRole?.description ?? "?")" })")
        throw XCTSkip("not settled")
    }
}
