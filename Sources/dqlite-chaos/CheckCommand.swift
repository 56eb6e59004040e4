import ArgumentParser
import Chaos
import Checker
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dqlite-chaos check FILE`: is a recorded history consistent, and if not, exactly why.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a history (HISTORY.md format) for consistency.",
        discussion: """
            Models: list-append (Elle-style dependency cycles; default level strict-serializable), set (lost, \
            stale, unexpected and duplicate elements; linearizable), register and cas-register (linearizability \
            per key). The model comes from --model, else the metadata line's "model", else the operations.
            Exit status: 0 valid, 1 invalid, 2 unknown (time or memory budget ran out), 64 usage error, \
            65 malformed history (the line and what was wrong are printed), 66 unreadable file.
            """
    )

    @Argument(help: "The history file (JSON Lines), or - for standard input.")
    var file: String

    @Option(help: "list-append, set, register or cas-register (default: from the history).")
    var model: String?

    @Option(help: "strict-serializable, serializable or snapshot-isolation (list-append); linearizable (set, registers).")
    var consistency: String?

    @Flag(help: "Print the result as JSON instead of text.")
    var json = false

    @Option(help: "Also write a self-contained HTML report to this file.")
    var html: String?

    @Option(help: "Seconds the search may take before answering unknown.")
    var timeLimit: Double = 600

    @Option(help: "MiB the linearizability search may memoise before answering unknown.")
    var memoryLimit: Int = 1024

    func validate() throws {
        if let model, Model(rawValue: model) == nil {
            throw ValidationError("unknown model '\(model)' (expected \(Model.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let consistency, Consistency(rawValue: consistency) == nil {
            throw ValidationError("unknown consistency '\(consistency)' (expected \(Consistency.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard timeLimit > 0 else { throw ValidationError("--time-limit must be positive") }
        guard memoryLimit > 0 else { throw ValidationError("--memory-limit must be positive") }
    }

    func run() async throws {
        var options = CheckOptions(consistency: consistency.flatMap(Consistency.init(rawValue:)),
                                   timeLimit: .milliseconds(Int64(timeLimit * 1000)))
        options.memoryLimit = memoryLimit << 20
        let history: History, result: CheckResult
        do {
            (history, result) = try await Checker.check(path: file, model: model.flatMap(Model.init(rawValue:)), options: options)
        } catch let error as HistoryError {
            fail("\(file): \(error)", status: 65)
        } catch let error as FileError {
            fail(error.description, status: 66)
        } catch let error as UsageError {
            fail(error.description, status: 64)
        }
        print(json ? result.json(history) : result.text(history))
        if let html {
            // A run's node metrics, when the history sits in a run's directory beside them.
            let samples = MetricsScraper.load((file as NSString).deletingLastPathComponent + "/metrics.jsonl")
            let page = HTMLReport.render(history, result, samples: samples)
            guard let f = fopen(html, "w"), fputs(page, f) >= 0, fclose(f) == 0 else {
                fail("cannot write \(html): \(String(cString: strerror(errno)))", status: 73)
            }
        }
        switch result.verdict {
        case .valid: return
        case .invalid: throw ExitCode(1)
        case .unknown: throw ExitCode(2)
        }
    }
}

/// Prints one line on standard error and exits with `status`.
func fail(_ message: String, status: Int32) -> Never {
    let line = Array("dqlite-chaos: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }     // fd 2: C's `stderr` is a shared mutable global
    exit(status)
}
