import ArgumentParser

/// The root command. Each job is a subcommand in its own file; add new ones (e.g. `run`) to `subcommands`.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite-chaos",
        abstract: "Chaos test bed for dqlite: check recorded histories for consistency.",
        subcommands: [
            CheckCommand.self,
            BenchCheckCommand.self,
        ]
    )
}
