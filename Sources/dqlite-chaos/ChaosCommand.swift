import ArgumentParser

/// The root command. Each job is a subcommand in its own file; add new ones to `subcommands`.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dqlite-chaos",
        abstract: "Chaos test bed for dqlite: run scenarios against local clusters and check recorded histories.",
        subcommands: [
            RunCommand.self,
            CheckCommand.self,
            BenchCheckCommand.self,
            ShrinkCommand.self,
            ValidateCommand.self,
            CampaignCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )
}
