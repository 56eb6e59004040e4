import XCTest
import LocalCluster

/// The client against real dqlite (Debian's dqlite-demo processes).
final class RealDqliteClientTests: XCTestCase {
    private var conformance: ClientConformance { ClientConformance(kind: .realDqlite, test: self) }

    func testFindsTheLeaderFromAnyNode() async throws { try await conformance.findsTheLeaderFromAnyNode() }

    func testTenThousandRowsOfEveryTypeRoundTripAcrossManyBatches() async throws { try await conformance.tenThousandRowsOfEveryTypeRoundTripAcrossManyBatches() }

    func testClosingACursorEarlyLeavesTheConnectionUsable() async throws { try await conformance.closingACursorEarlyLeavesTheConnectionUsable() }

    func testAFollowerRefusesWritesWithNotLeader() async throws { try await conformance.aFollowerRefusesWritesWithNotLeader() }

    func testClusterAndAdminRequests() async throws { try await conformance.clusterAndAdminRequests() }

    func testAssignMovesAFourthNodeBetweenRoles() async throws { try await conformance.assignMovesAFourthNodeBetweenRoles() }

    func testSurvivesSigkillOfTheLeader() async throws { try await conformance.survivesSigkillOfTheLeader() }
}

/// The same client tests against our dqlite-node processes.
final class SwiftNodeClientTests: XCTestCase {
    private var conformance: ClientConformance { ClientConformance(kind: .swiftNode(executable: CommandRunner.productsDirectory + "/dqlite-node"), test: self) }

    func testFindsTheLeaderFromAnyNode() async throws { try await conformance.findsTheLeaderFromAnyNode() }

    func testTenThousandRowsOfEveryTypeRoundTripAcrossManyBatches() async throws { try await conformance.tenThousandRowsOfEveryTypeRoundTripAcrossManyBatches() }

    func testClosingACursorEarlyLeavesTheConnectionUsable() async throws { try await conformance.closingACursorEarlyLeavesTheConnectionUsable() }

    func testAFollowerRefusesWritesWithNotLeader() async throws { try await conformance.aFollowerRefusesWritesWithNotLeader() }

    func testClusterAndAdminRequests() async throws { try await conformance.clusterAndAdminRequests() }

    func testAssignMovesAFourthNodeBetweenRoles() async throws { try await conformance.assignMovesAFourthNodeBetweenRoles() }

    func testSurvivesSigkillOfTheLeader() async throws { try await conformance.survivesSigkillOfTheLeader() }
}
