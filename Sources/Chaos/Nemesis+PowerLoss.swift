#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Power losses: the nodes die together, then each one's disk forgets what it had not synced.
extension Nemesis {
    /// The nodes a group power loss cuts, among `free` (live nodes no other fault holds): a majority of the
    /// cluster's `count` nodes that includes the leader when there is one, or every free node.
    static func powerLossGroup(_ target: Target, free: [Int], count: Int, leader: Int?, pick: Int) -> [Int] {
        guard target == .majority else { return free }
        let size = count / 2 + 1
        guard free.count >= size else { return [] }
        var others = free.filter { $0 != leader }
        // Rotated by the pick, so seeds cut different majorities.
        if !others.isEmpty { others = Array(others[(pick % others.count)...] + others[..<(pick % others.count)]) }
        let first = leader.flatMap { free.contains($0) ? [$0] : nil } ?? []
        return Array((first + others).prefix(size))
    }

    /// Kills `nodes` at once (every SIGKILL is sent before waiting for any), then cuts each one's disk.
    func cutPower(_ nodes: [Int], torn: Bool, wasLeader: Bool, forS: Double) async -> NetworkNemesis.Applied {
        for n in nodes { await cluster.signal(n, SIGKILL) }
        for n in nodes { await cluster.kill(n, signal: SIGKILL) }
        var cuts: [PowerLossCut] = []
        for n in nodes {
            var cut = PowerLossCut(node: n + 1)
            do {
                guard let power else { throw ChaosError.harness("no power-loss layer under the data dirs") }
                cut.discarded = try power.losePower(n, torn: torn)
            } catch {
                diskless.insert(n)
                cut.error = "\(error)"
            }
            cuts.append(cut)
        }
        let detail = PowerLossDetail(nodes: nodes.map { $0 + 1 }, leader: wasLeader, torn: torn, forS: forS, cuts: cuts)
        let json = (try? JSONEncoder.sorted.encode(detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let lost = cuts.compactMap(\.discarded).reduce(0) { $0 + $1.cutBytes + $1.restoredBytes }
        return NetworkNemesis.Applied(detail: json, status: "power-loss \(nodes.map { "n\($0 + 1)" }.joined(separator: ","))\(wasLeader ? " (leader)" : "") -\(lost) B")
    }
}

/// A power loss as the history records it.
struct PowerLossDetail: Codable, Sendable {
    var nodes: [Int]
    var leader: Bool
    var torn: Bool
    var forS: Double
    var cuts: [PowerLossCut]
    enum CodingKeys: String, CodingKey { case nodes, leader, torn, forS = "for_s", cuts }
}

/// One node's disk at a power loss: what it discarded, or why it could not.
struct PowerLossCut: Codable, Sendable {
    var node: Int
    var discarded: PowerLossReport?
    var error: String?
}

extension JSONEncoder {
    /// Keys in a fixed order, so the same fault reads the same in every history.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
