import ArgumentParser
import Checker

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "placeholder")
    @Argument var file: String
    func run() async throws {
        let (_, r) = try await Checker.check(path: file)
        print(r.verdict, r.anomalyCounts)
        for a in r.anomalies { print(a.type); for l in a.explanation { print("  " + l) } }
    }
}
