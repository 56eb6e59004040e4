import Checker
import Foundation
import LocalCluster
@testable import Chaos

/// Options for in-process chaos runs against this build's dqlite-node, checked by the Checker at each model's
/// own level (as dqlite-chaos checks them).
func testRunOptions(_ s: Scenario, seed: UInt64, out: String, replay: [PlannedFault]? = nil) -> RunOptions {
    RunOptions(scenario: s, scenarioPath: nil, scenarioDigest: "test", seed: seed, outputDirectory: out,
               nodeExecutable: CommandRunner.productsDirectory + "/dqlite-node", replay: replay,
               checkHistory: { path in
                   do {
                       let (_, r) = try await Checker.check(path: path)
                       return HistoryVerdict(passed: r.verdict == .valid, summary: "\(r.verdict)", anomalies: r.anomalyTypes)
                   } catch {
                       return HistoryVerdict(passed: false, summary: "\(error)")
                   }
               }, say: { _ in })
}

/// A temp dir removed when the test ends.
func temporaryRunRoot(_ name: String) -> String {
    NSTemporaryDirectory() + "chaos-\(name)-\(UUID().uuidString)"
}
