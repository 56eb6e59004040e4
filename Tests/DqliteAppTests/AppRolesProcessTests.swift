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
    private func domain(_ index: Int) -> Int { index % 3 + 1 }
    private let unreachableMs = 2000, intervalMs = 500

    private func settled(_ members: [NodeInfo], addresses: [String]) -> Bool {
        let voters = members.filter { $0.knownRole == .voter }, standBys = members.filter { $0.knownRole == .standBy }
        func domains(_ ms: [NodeInfo]) -> Set<Int> { Set(ms.compactMap { m in addresses.firstIndex(of: m.address).map(domain) }) }
        return members.count == 7 && voters.count == 3 && standBys.count == 3 && domains(voters).count == 3 && domains(standBys).count == 3
    }

    func testSevenNodesSettleSpreadOverDomainsAndAKilledVoterIsReplacedWithinTheBound() async throws {
        let cluster = try await ProcessCluster.start(
            nodes: 7, kind: .swiftNode(executable: nodeBinary, arguments: ["--auto-roles", "--unreachable-after", String(unreachableMs),
                                                                          "--roles-interval", String(intervalMs)]),
            nodeFlags: { ["--failure-domain", String($0 % 3 + 1)] })
        addTeardownBlock { await cluster.stop() }
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
}
