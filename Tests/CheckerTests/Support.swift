import Checker
import Foundation
import LocalCluster
import XCTest

/// Shared helpers: generated histories as text, checking text, and running the built `dqlite-chaos`.
enum Support {
    static func generate(_ body: (HistoryWriter) -> Void) -> String {
        var bytes: [UInt8] = []
        let writer = HistoryWriter { bytes.append(contentsOf: $0) }
        body(writer)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func check(_ text: String, model: Model? = nil, consistency: Consistency? = nil,
                      timeLimit: Duration = .seconds(60)) async throws -> (History, CheckResult) {
        let history = try HistoryParser.parse(text: text, model: model)
        let result = try await Checker.check(history, options: CheckOptions(consistency: consistency, timeLimit: timeLimit))
        return (history, result)
    }

    static var corpusDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
    }

    /// The built executable, beside the test bundle (.build/<config>/).
    static var executable: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return dir.appendingPathComponent("dqlite-chaos").path
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ arguments: [String]) throws -> Run {
        let r = try CommandRunner.runBlocking(executable, arguments, timeout: .seconds(300))
        return Run(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let path = NSTemporaryDirectory() + "checker-tests-\(getpid())-\(name)"
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
