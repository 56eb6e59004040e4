import ArgumentParser
import DqliteApp
import DqliteNode
import DqliteWire
import Foundation

/// `dqlite-node recover`: forced reconfiguration after the loss of a majority.
struct RecoverNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Force a new cluster configuration into a stopped node's Raft log (after losing a majority).",
        discussion: """
            Run it once, on the survivor with the most recent log, while that node is stopped; then start the
            node again. The cluster file lists the new members, one per line: ID ADDRESS [ROLE], where ROLE is
            voter (the default), stand-by or spare; blank lines and lines starting with # are ignored.
            """
    )

    @Option(help: "This node's id (it must be in the cluster file).")
    var id: UInt64

    @Option(help: "The node's data directory.")
    var dir: String

    @Option(help: "The new configuration: lines of ID ADDRESS [ROLE].")
    var cluster: String

    func run() async throws {
        let members: [(UInt64, String, NodeRole)]
        do {
            members = try ClusterFile.parse(try String(contentsOfFile: cluster, encoding: .utf8), file: cluster)
        } catch {
            fail("\(error)")
        }
        let directory: NodeDirectory
        do {
            guard NodeDirectory.hasState(dir) else { throw NodeDirectoryError("\(dir) holds no Raft state to recover") }
            directory = try NodeDirectory.lock(dir)
        } catch {
            fail("\(error)")
        }
        defer { directory.unlock() }
        do {
            try await Node.recover(id: id, dir: dir, members: members)
        } catch {
            fail("recovery of \(dir) failed: \(error)")
        }
        log("wrote a configuration of \(members.count) member(s) into \(dir); start the node to apply it")
    }
}

enum ClusterFile {
    static func parse(_ text: String, file: String) throws -> [(UInt64, String, NodeRole)] {
        var members: [(UInt64, String, NodeRole)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count == 2 || words.count == 3, let id = UInt64(words[0]), id > 0 else {
                throw NodeDirectoryError("\(file):\(n + 1): expected ID ADDRESS [ROLE], got '\(line)'")
            }
            let role = words.count == 3 ? NodeRole(name: words[2]) : .voter
            guard let role else { throw NodeDirectoryError("\(file):\(n + 1): unknown role '\(words[2])'") }
            guard !members.contains(where: { $0.0 == id }) else { throw NodeDirectoryError("\(file):\(n + 1): id \(id) listed twice") }
            members.append((id, words[1], role))
        }
        guard !members.isEmpty else { throw NodeDirectoryError("\(file): no members") }
        return members
    }
}
