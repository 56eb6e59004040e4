import ArgumentParser
import Chaos
import Foundation

/// `dqlite-chaos validate FILES...`: loads scenario files without running them and says what each needs.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check scenario files without running them; print each one's tier, target, faults and whether it needs root.",
        discussion: "One line per file: `PATH: ok name=N tier=T target=T faults=a,b plan=random|explicit|none needs-root=yes|no`. Exit status 64 when any file is malformed (its line and field are printed).")

    @Argument(help: "Scenario files (YAML).")
    var files: [String]

    func run() throws {
        var bad = false
        for path in files {
            do {
                let s = try ScenarioLoader.load(path: path)
                let faults = s.faultTypes.map(\.rawValue).sorted().joined(separator: ",")
                print("\(path): ok name=\(s.name) tier=\(s.tier.rawValue) target=\(s.cluster.target.rawValue) expect=\(s.expect.rawValue) faults=\(faults.isEmpty ? "none" : faults) plan=\(s.faults.mode.rawValue) needs-root=\(s.needsRoot ? "yes" : "no")")
            } catch {
                bad = true
                FileHandle.standardError.write(Data("\(error)\n".utf8))
            }
        }
        if bad { throw ExitCode(64) }
    }
}
