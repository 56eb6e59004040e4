import Chaos
import Checker
import Foundation

/// The history check of a run: the Checker at strict serializability (list-append), with its explanation and
/// HTML report written next to the history.
enum HistoryCheck {
    @Sendable static func check(_ path: String) async -> HistoryVerdict {
        // Each model at its own level: list-append strict serializable, set and registers linearizable.
        var options = CheckOptions(consistency: nil, timeLimit: .seconds(120))
        options.memoryLimit = 2 << 30
        do {
            let (history, result) = try await Checker.check(path: path, options: options)
            let dir = (path as NSString).deletingLastPathComponent
            try? result.text(history).write(toFile: dir + "/check.txt", atomically: true, encoding: .utf8)
            let samples = MetricsScraper.load(dir + "/metrics.jsonl")
            try? HTMLReport.render(history, result, samples: samples).write(toFile: dir + "/report.html", atomically: true, encoding: .utf8)
            let summary: String = switch result.verdict {
            case .valid: "\(result.operationCount) operations, \(result.consistency.rawValue.replacingOccurrences(of: "-", with: " ")) (report.html)"
            case .invalid: "anomalies \(result.anomalyTypes.joined(separator: ", ")) (check.txt, report.html)"
            case .unknown: "unknown: \(result.unknownReasons.joined(separator: "; "))"
            }
            return HistoryVerdict(passed: result.verdict == .unknown ? nil : result.verdict == .valid, summary: summary,
                                  anomalies: result.anomalyTypes)
        } catch {
            return HistoryVerdict(passed: false, summary: "the history could not be checked: \(error)")
        }
    }
}
