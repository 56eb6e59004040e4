import ArgumentParser

struct BenchCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-check", abstract: "placeholder")
    func run() async throws {}
}
