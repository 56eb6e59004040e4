// Tarjan's strongly connected components, iterative (a million-node history would overflow the stack if
// recursive), over the edges whose kind is in a mask, optionally restricted to the nodes carrying one tag.
// The arrays are sized for the whole graph once and reset only where a run touched them, so the many small
// searches inside one component cost only that component's size.

struct StronglyConnected {
    private var order: [Int32]
    private var low: [Int32]
    private var onStack: [Bool]
    private var stack: [Int32] = []
    private var calls: [(node: Int32, next: Int32)] = []
    private var touched: [Int32] = []

    init(nodeCount: Int) {
        order = Array(repeating: -1, count: nodeCount)
        low = Array(repeating: 0, count: nodeCount)
        onStack = Array(repeating: false, count: nodeCount)
    }

    /// Components of two or more nodes among `nodes` (nil: all), following edges of kinds in `mask` and, when
    /// `member` is given, only to nodes `w` with `member[w] == tag`.
    mutating func components(_ g: DependencyGraph, mask: UInt8, nodes: [Int32]? = nil,
                             member: [Int32]? = nil, tag: Int32 = 0) -> [[Int32]] {
        var result: [[Int32]] = []
        var counter: Int32 = 0
        func visit(_ s: Int32) {
            func push(_ v: Int32) {
                order[Int(v)] = counter
                low[Int(v)] = counter
                counter += 1
                stack.append(v)
                onStack[Int(v)] = true
                touched.append(v)
                calls.append((v, g.offsets[Int(v)]))
            }
            push(s)
            while let top = calls.last {
                let v = Int(top.node)
                let end = g.offsets[v + 1]
                if top.next < end {
                    let e = Int(top.next)
                    calls[calls.count - 1].next += 1
                    if g.kinds[e] & mask == 0 { continue }
                    let w = g.targets[e]
                    if let member, member[Int(w)] != tag { continue }
                    if order[Int(w)] < 0 {
                        push(w)
                    } else if onStack[Int(w)] {
                        low[v] = min(low[v], order[Int(w)])
                    }
                } else {
                    calls.removeLast()
                    if let parent = calls.last { low[Int(parent.node)] = min(low[Int(parent.node)], low[v]) }
                    if low[v] == order[v] {
                        var component: [Int32] = []
                        while true {
                            let w = stack.removeLast()
                            onStack[Int(w)] = false
                            component.append(w)
                            if Int(w) == v { break }
                        }
                        if component.count > 1 { result.append(component) }
                    }
                }
            }
        }
        if let nodes {
            for s in nodes where order[Int(s)] < 0 { visit(s) }
        } else {
            for s in 0..<g.nodeCount where order[s] < 0 { visit(Int32(s)) }
        }
        for v in touched { order[Int(v)] = -1 }
        touched.removeAll(keepingCapacity: true)
        return result
    }
}
