/// Which node drops packets from which, for one partition. Pure, so every shape is tested without namespaces.
public struct PartitionLayout: Sendable, Equatable {
    /// The sides (1-based node ids) as the history reports them; for majorities-ring, each node's view.
    public var groups: [[Int]]
    /// (receiver, sender): the receiver drops every packet from the sender.
    public var drops: [Drop]

    public struct Drop: Sendable, Hashable, Comparable {
        public var receiver: Int
        public var sender: Int
        public static func < (a: Drop, b: Drop) -> Bool { (a.receiver, a.sender) < (b.receiver, b.sender) }
    }

    /// `nodes` are 1-based ids, `center` one of them; `pick` rotates the others.
    public static func make(_ shape: PartitionShape, nodes: [Int], center: Int, pick: Int) -> PartitionLayout {
        var others = nodes.filter { $0 != center }.sorted()
        if !others.isEmpty {
            let r = pick % others.count
            others = Array(others[r...] + others[..<r])
        }
        switch shape {
        case .isolate:
            return split([center], others)
        case .majority:
            // The target's side is the largest minority: n/2 nodes (1 of 3, 2 of 5).
            let minority = [center] + others.prefix(max(0, nodes.count / 2 - 1))
            return split(minority.sorted(), others.filter { !minority.contains($0) }.sorted())
        case .bridge:
            let a = Array(others.prefix(others.count / 2)), b = Array(others.dropFirst(others.count / 2))
            var drops: [Drop] = []
            for x in a { for y in b { drops += [Drop(receiver: x, sender: y), Drop(receiver: y, sender: x)] } }
            return PartitionLayout(groups: [(a + [center]).sorted(), ([center] + b).sorted()], drops: drops.sorted())
        case .oneWay:
            return PartitionLayout(groups: [[center], others.sorted()],
                                   drops: others.map { Drop(receiver: center, sender: $0) }.sorted())
        case .majoritiesRing:
            // Around the ring, each node sees the nearest `reach` nodes on either side: with itself, a majority.
            let ring = [center] + others, n = ring.count
            let reach = (n / 2 + 1) / 2
            var groups: [[Int]] = [], drops: [Drop] = []
            for (i, x) in ring.enumerated() {
                var view: [Int] = []
                for (j, y) in ring.enumerated() {
                    let d = min(abs(i - j), n - abs(i - j))
                    if d <= reach { view.append(y) } else { drops.append(Drop(receiver: x, sender: y)) }
                }
                groups.append(view.sorted())
            }
            return PartitionLayout(groups: groups.sorted { $0.lexicographicallyPrecedes($1) }, drops: drops.sorted())
        }
    }

    /// Exactly the sides `groups` (1-based ids; a node of `nodes` in none of them is on its own): every node
    /// drops every packet from the nodes outside its side.
    public static func make(groups: [[Int]], nodes: [Int]) -> PartitionLayout {
        let named = Set(groups.joined())
        let sides = groups.map { $0.sorted() } + nodes.filter { !named.contains($0) }.sorted().map { [$0] }
        var drops: [Drop] = []
        for (i, a) in sides.enumerated() {
            for (j, b) in sides.enumerated() where i != j {
                for x in a { for y in b { drops.append(Drop(receiver: x, sender: y)) } }
            }
        }
        return PartitionLayout(groups: sides, drops: drops.sorted())
    }

    private static func split(_ a: [Int], _ b: [Int]) -> PartitionLayout {
        var drops: [Drop] = []
        for x in a { for y in b { drops += [Drop(receiver: x, sender: y), Drop(receiver: y, sender: x)] } }
        return PartitionLayout(groups: [a.sorted(), b.sorted()], drops: drops.sorted())
    }
}
