// Short witness cycles inside one strongly connected component, by breadth-first search over the edge kinds
// an anomaly class allows (Elle's approach): any cycle over a mask, a cycle with exactly one rw edge, and a
// cycle whose rw edges are never adjacent. Each search is exhaustive unless the deadline passes, in which
// case `incomplete` is set and the caller must not conclude that no such cycle exists.

/// A cycle as its edges: `nodes[i]` → `nodes[i+1]` (wrapping) through CSR edge `edges[i]`.
struct Cycle {
    var nodes: [Int32]
    var edges: [Int32]
}

struct CycleSearch {
    let graph: DependencyGraph
    private var sccs: StronglyConnected
    /// Tag of the component being searched, per node.
    private var member: [Int32]
    private var tag: Int32 = 0
    private var seen: [Int32]            // BFS generation stamps, 2 per node (for the rw-adjacency search)
    private var parentEdge: [Int32]
    private var parentState: [Int32]
    private var generation: Int32 = 0
    private var queue: [Int32] = []
    let deadline: ContinuousClock.Instant
    /// Nodes at and above this are per-key "after everything read" nodes, not operations.
    let operationCount: Int
    private(set) var incomplete = false

    init(graph: DependencyGraph, operationCount: Int, deadline: ContinuousClock.Instant) {
        self.graph = graph
        self.operationCount = operationCount
        self.deadline = deadline
        sccs = StronglyConnected(nodeCount: graph.nodeCount)
        member = Array(repeating: -1, count: graph.nodeCount)
        seen = Array(repeating: 0, count: graph.nodeCount * 2)
        parentEdge = Array(repeating: -1, count: graph.nodeCount * 2)
        parentState = Array(repeating: -1, count: graph.nodeCount * 2)
    }

    /// Restricts the following searches to `component`.
    mutating func focus(_ component: [Int32]) {
        tag += 1
        for v in component { member[Int(v)] = tag }
    }

    private mutating func overTime() -> Bool {
        if incomplete { return true }
        if ContinuousClock.now > deadline { incomplete = true }
        return incomplete
    }

    /// A short cycle over edges of kinds in `mask` within `component`, if there is one.
    mutating func anyCycle(_ component: [Int32], mask: UInt8) -> Cycle? {
        guard !overTime() else { return nil }
        let inner = sccs.components(graph, mask: mask, nodes: component, member: member, tag: tag)
        guard let sub = inner.min(by: { $0.count < $1.count }) else { return nil }
        var best: Cycle? = nil
        for s in sub.prefix(8) {
            if let c = shortestCycle(through: s, mask: mask), best == nil || c.edges.count < best!.edges.count { best = c }
            if best?.edges.count == 2 { break }
        }
        return best
    }

    /// BFS from `s` back to `s` over `mask`, inside the focused component.
    private mutating func shortestCycle(through s: Int32, mask: UInt8) -> Cycle? {
        generation += 1
        queue.removeAll(keepingCapacity: true)
        queue.append(s)
        seen[Int(s)] = generation
        parentEdge[Int(s)] = -1
        var head = 0
        while head < queue.count {
            let v = queue[head]
            head += 1
            for e in graph.edges(Int(v)) where graph.kinds[e] & mask != 0 {
                let w = graph.targets[e]
                guard member[Int(w)] == tag else { continue }
                if w == s { return path(to: v, from: s, closing: Int32(e)) }
                if seen[Int(w)] != generation {
                    seen[Int(w)] = generation
                    parentEdge[Int(w)] = Int32(e)
                    parentState[Int(w)] = v
                    queue.append(w)
                }
            }
        }
        return nil
    }

    /// Path s ⇝ v from the BFS parents, then the edge v → s.
    private func path(to v: Int32, from s: Int32, closing: Int32) -> Cycle {
        var nodes: [Int32] = [v]
        var edges: [Int32] = [closing]
        var cur = v
        while cur != s {
            edges.append(parentEdge[Int(cur)])
            cur = parentState[Int(cur)]
            nodes.append(cur)
        }
        return Cycle(nodes: nodes.reversed(), edges: edges.reversed())
    }

    /// rw edges inside the focused component, grouped by target.
    private func rwEdges(_ component: [Int32]) -> [(from: Int32, edge: Int32, to: Int32)] {
        var list: [(from: Int32, edge: Int32, to: Int32)] = []
        for v in component {
            for e in graph.edges(Int(v)) where graph.kinds[e] & EdgeKind.rw != 0 && member[Int(graph.targets[e])] == tag {
                list.append((v, Int32(e), graph.targets[e]))
            }
        }
        list.sort { ($0.to, $0.from) < ($1.to, $1.from) }
        return list
    }

    /// A cycle with exactly one rw edge, the rest of kinds in `mask` (which excludes rw).
    mutating func singleAntiDependency(_ component: [Int32], mask: UInt8) -> Cycle? {
        let rws = rwEdges(component)
        var i = 0
        var best: Cycle? = nil
        while i < rws.count {
            guard !overTime() else { return best }
            let b = rws[i].to
            var j = i
            while j < rws.count && rws[j].to == b { j += 1 }
            // BFS from b over `mask`; any rw edge a → b with a reached closes a cycle.
            bfs(from: b, mask: mask)
            for k in i..<j where seen[Int(rws[k].from)] == generation {
                let c = closeCycle(start: b, end: rws[k].from, closing: rws[k].edge)
                if best == nil || c.edges.count < best!.edges.count { best = c }
            }
            if let best, best.edges.count <= 3 { return best }
            i = j
        }
        return best
    }

    private mutating func bfs(from s: Int32, mask: UInt8) {
        generation += 1
        queue.removeAll(keepingCapacity: true)
        queue.append(s)
        seen[Int(s)] = generation
        var head = 0
        while head < queue.count {
            let v = queue[head]
            head += 1
            for e in graph.edges(Int(v)) where graph.kinds[e] & mask != 0 {
                let w = graph.targets[e]
                guard member[Int(w)] == tag, seen[Int(w)] != generation else { continue }
                seen[Int(w)] = generation
                parentEdge[Int(w)] = Int32(e)
                parentState[Int(w)] = v
                queue.append(w)
            }
        }
    }

    /// Cycle start ⇝ end (BFS parents), then the closing edge end → start.
    private func closeCycle(start: Int32, end: Int32, closing: Int32) -> Cycle {
        var nodes: [Int32] = []
        var edges: [Int32] = [closing]
        var cur = end
        nodes.append(cur)
        while cur != start {
            edges.append(parentEdge[Int(cur)])
            cur = parentState[Int(cur)]
            nodes.append(cur)
        }
        return Cycle(nodes: nodes.reversed(), edges: edges.reversed())
    }

    /// A cycle with at least one rw edge and no two rw edges in a row (cyclically): what snapshot isolation
    /// forbids beyond G0, G1 and G-single. Searches states (node, whether the last edge was rw).
    mutating func nonAdjacentAntiDependencies(_ component: [Int32], mask: UInt8) -> Cycle? {
        let rws = rwEdges(component)
        var i = 0
        while i < rws.count {
            guard !overTime() else { return nil }
            let b = rws[i].to
            var j = i
            while j < rws.count && rws[j].to == b { j += 1 }
            // Entered b through an rw edge: state (b, 1). A cycle closes at (a, 0) for an rw edge a → b.
            generation += 1
            queue.removeAll(keepingCapacity: true)
            let start = b * 2 + 1
            queue.append(start)
            seen[Int(start)] = generation
            var head = 0
            while head < queue.count {
                let state = queue[head]
                head += 1
                let v = Int(state / 2), lastRW = state % 2 == 1
                for e in graph.edges(v) {
                    let k = graph.kinds[e]
                    // An edge out of a key's "after everything read" node only continues the edge that entered
                    // it: it carries that edge's rw-ness on.
                    let isRW = v >= operationCount ? lastRW : k & EdgeKind.rw != 0
                    if v >= operationCount && k & mask == 0 { continue }
                    if v < operationCount {
                        guard isRW ? !lastRW : (k & mask != 0) else { continue }
                    }
                    let w = graph.targets[e]
                    guard member[Int(w)] == tag else { continue }
                    let next = w * 2 + (isRW ? 1 : 0)
                    guard seen[Int(next)] != generation else { continue }
                    seen[Int(next)] = generation
                    parentEdge[Int(next)] = Int32(e)
                    parentState[Int(next)] = state
                    queue.append(next)
                }
            }
            for k in i..<j where seen[Int(rws[k].from * 2)] == generation {
                var nodes: [Int32] = [], edges: [Int32] = [rws[k].edge]
                var cur = rws[k].from * 2
                nodes.append(cur / 2)
                while cur != start {
                    edges.append(parentEdge[Int(cur)])
                    cur = parentState[Int(cur)]
                    nodes.append(cur / 2)
                }
                return Cycle(nodes: nodes.reversed(), edges: edges.reversed())
            }
            i = j
        }
        return nil
    }
}

/// Names a cycle by the edges it needs (Adya's classes as Elle reports them).
/// Edges out of a key's "after everything read" node (nodes ≥ `operationCount`) only continue the edge that
/// entered it, so they are left out.
func classify(_ cycle: Cycle, _ g: DependencyGraph, operationCount: Int) -> String {
    let kinds = cycle.edges.indices.filter { Int(cycle.nodes[$0]) < operationCount }.map { g.kinds[Int(cycle.edges[$0])] }
    let rw = kinds.map { $0 & EdgeKind.rw != 0 }
    let rwCount = rw.filter { $0 }.count
    var base: String
    if rwCount == 0 {
        base = kinds.contains { $0 & EdgeKind.wr != 0 } ? "G1c" : "G0"
    } else if rwCount == 1 {
        base = "G-single"
    } else {
        let adjacent = rw.indices.contains { rw[$0] && rw[($0 + 1) % rw.count] }
        base = adjacent ? "G2-item" : "G-nonadjacent"
    }
    if kinds.contains(where: { $0 & EdgeKind.realtime != 0 }) { base += "-realtime" }
    else if kinds.contains(where: { $0 & EdgeKind.process != 0 }) { base += "-process" }
    return base
}
