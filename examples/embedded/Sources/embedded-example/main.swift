// Three dqlite nodes inside one program (in a real deployment: one per machine, each its own process),
// forming a cluster through DqliteApp, then a table written through one and read back through another.
import DqliteApp
import DqliteClient
import Foundation

let root = FileManager.default.temporaryDirectory.appendingPathComponent("embedded-example-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: root) }
// Three ports from the command line, else 29001-29003.
let ports = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let addresses = (0..<3).map { "127.0.0.1:\(ports.count == 3 ? ports[$0] : 29001 + $0)" }

var options = DqliteAppOptions()
options.voters = 3
// The first node bootstraps a new cluster; the others join through it. Each keeps its data in its own dir.
var apps: [DqliteApp] = []
for (i, address) in addresses.enumerated() {
    let app = try await DqliteApp(dir: "\(root)/node\(i + 1)", address: address, cluster: i == 0 ? [] : [addresses[0]], options: options)
    apps.append(app)
}
for app in apps { try await app.ready() }

let writer = try await apps[0].open("example")
try await writer.exec("CREATE TABLE greetings (id INTEGER PRIMARY KEY, text TEXT)")
try await writer.exec("INSERT INTO greetings (text) VALUES (?)", [.text("hello from dqlite in Swift")])

// Any node's client reaches the leader; the read is linearizable.
let reader = try await apps[2].open("example")
let rows = try await reader.queryAll("SELECT text FROM greetings").rows
let members = try await apps[1].client.cluster()
print("cluster: \(members.map { "\($0.address) \($0.knownRole?.description ?? "?")" }.joined(separator: ", "))")
print("read back: \(rows.first?.first.map { "\($0)" } ?? "nothing")")

// A planned stop: each node hands leadership and its role over first.
for app in apps.reversed() { await app.close() }
