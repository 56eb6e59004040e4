// The dependency graph in compressed sparse rows: for each node, a contiguous run of (target, kind) pairs.
// Edges are plain integers in flat arrays (no object per edge); their reasons are recovered only for the few
// edges an explanation shows.

enum EdgeKind {
    static let ww: UInt8 = 1          // write-write: the target's append directly follows the source's
    static let wr: UInt8 = 2          // write-read: the target read the source's append
    static let rw: UInt8 = 4          // read-write (anti-dependency): the source read a version the target's append follows
    static let process: UInt8 = 8     // same process, one after the other
    static let realtime: UInt8 = 16   // the source completed before the target was invoked

    static let base: UInt8 = ww | wr | rw

    static func name(_ kind: UInt8) -> String {
        switch kind {
        case ww: "ww"
        case wr: "wr"
        case rw: "rw"
        case process: "process"
        default: "realtime"
        }
    }
}

struct EdgeList {
    var from: [Int32] = []
    var to: [Int32] = []
    var kind: [UInt8] = []

    @inline(__always) mutating func add(_ a: Int32, _ b: Int32, _ k: UInt8) {
        from.append(a)
        to.append(b)
        kind.append(k)
    }

    var count: Int { from.count }
}

struct DependencyGraph {
    let nodeCount: Int
    var offsets: [Int32]      // nodeCount + 1
    var targets: [Int32]
    var kinds: [UInt8]

    init(nodeCount: Int, edges: EdgeList) {
        self.nodeCount = nodeCount
        var offsets = Array(repeating: Int32(0), count: nodeCount + 1)
        for f in edges.from { offsets[Int(f) + 1] += 1 }
        for i in 0..<nodeCount { offsets[i + 1] += offsets[i] }
        var cursor = offsets
        var targets = Array(repeating: Int32(0), count: edges.count)
        var kinds = Array(repeating: UInt8(0), count: edges.count)
        for e in 0..<edges.count {
            let f = Int(edges.from[e])
            let slot = Int(cursor[f])
            cursor[f] += 1
            targets[slot] = edges.to[e]
            kinds[slot] = edges.kind[e]
        }
        self.offsets = offsets
        self.targets = targets
        self.kinds = kinds
    }

    @inline(__always) func edges(_ v: Int) -> Range<Int> { Int(offsets[v])..<Int(offsets[v + 1]) }
}
