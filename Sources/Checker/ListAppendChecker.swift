// The list-append check, Elle's way: index, non-cycle anomalies in linear passes, the dependency graph, its
// strongly connected components, then a short witness cycle of the most specific class in each.
// Any cycle at all is certain (a component exists), so a witness search that runs out of time still leaves
// the verdict invalid; only snapshot isolation, where some cycles are allowed, can end `unknown`.

enum ListAppendChecker {
    /// Anomalies found without cycles; all of them are forbidden at every level this model is checked at.
    static let nonCycleTypes = ["G1a", "G1b", "internal", "duplicate-elements", "incompatible-order", "garbage-read", "lost-update"]

    struct Outcome {
        var log: AnomalyLog
        var unknownReasons: [String] = []
        var notes: [String] = []
    }

    static func check(_ h: History, consistency: Consistency, options: CheckOptions,
                      timings: inout PhaseTimings) throws(HistoryError) -> Outcome {
        let clock = ContinuousClock()
        let deadline = clock.now + options.timeLimit
        var out = Outcome(log: AnomalyLog(limit: options.maxReportedPerType))
        let buildStart = clock.now

        var index = try ListAppendIndex(h)
        var reports = ElementReports()
        index.buildVersionOrders(&out.log, &reports)
        ListAppendReads.checkPrefixes(&index, &out.log, &reports)
        ListAppendReads.checkInternal(index, &out.log)
        ListAppendReads.checkOwnAppendOrder(index, &out.log)
        let external = ListAppendReads.externalReads(index)
        ListAppendReads.checkLostUpdates(index, external, &out.log)

        let strict = consistency == .strictSerializable
        let built = ListAppendGraph(index, external: external, realtime: strict)
        for r in built.intermediateReads {
            let writer = Int(index.appendOp[Int(r.append)])
            let m = h.mops[Int(r.mop)]
            out.log.add("G1b") {
                Anomaly(type: "G1b", operations: [writer, Int(r.reader)], key: m.key, explanation: [
                    h.introduce(writer), h.introduce(Int(r.reader)),
                    "\(h.name(Int(r.reader))) read key \(m.key) as \(h.listText(h.list(m))), ending with \(index.appendElement[Int(r.append)]), which \(h.name(writer)) appended but then appended more to key \(m.key) in the same transaction: an intermediate read.",
                ])
            }
        }
        let graph = DependencyGraph(nodeCount: built.nodeCount, edges: built.edges)
        let searchStart = clock.now
        timings.build = searchStart - buildStart

        let mask = strict ? EdgeKind.base | EdgeKind.process | EdgeKind.realtime : EdgeKind.base
        var tarjan = StronglyConnected(nodeCount: graph.nodeCount)
        var components = tarjan.components(graph, mask: mask)
        components.sort { $0.count < $1.count }       // small components first: their witnesses are cheap
        var search = CycleSearch(graph: graph, operationCount: h.operations.count, deadline: deadline)
        let explainer = ListAppendExplainer(index: index)
        let extras: [UInt8] = strict ? [0, EdgeKind.process, EdgeKind.process | EdgeKind.realtime] : [0]
        var allowedCycles = 0
        for component in components {
            search.focus(component)
            var found: Cycle? = nil
            // Most specific class first: G0, G1c, G-single, then G-nonadjacent (snapshot isolation) or G2-item;
            // first over ww/wr/rw alone, then also process edges, then also realtime edges.
            for extra in extras where found == nil {
                found = search.anyCycle(component, mask: EdgeKind.ww | extra)
                if found == nil { found = search.anyCycle(component, mask: EdgeKind.ww | EdgeKind.wr | extra) }
                if found == nil { found = search.singleAntiDependency(component, mask: EdgeKind.ww | EdgeKind.wr | extra) }
                if found == nil {
                    found = consistency == .snapshotIsolation
                        ? search.nonAdjacentAntiDependencies(component, mask: EdgeKind.ww | EdgeKind.wr | extra)
                        : search.anyCycle(component, mask: EdgeKind.base | extra)
                }
            }
            if let found {
                let type = classify(found, graph, operationCount: h.operations.count)
                out.log.add(type) { explainer.explain(found, graph, type: type) }
            } else if search.incomplete {
                if consistency == .snapshotIsolation {
                    out.unknownReasons.append("time limit reached while looking for cycles that snapshot isolation forbids, in a component of \(component.count) transactions")
                } else {
                    // The component proves a cycle; only its witness is missing.
                    let ops = component.filter { Int($0) < h.operations.count }.map(Int.init)
                    out.log.add("cycle") {
                        Anomaly(type: "cycle", operations: Array(ops.prefix(50)), explanation: [
                            "These \(ops.count) transactions depend on each other in a cycle (a strongly connected component of the dependency graph); the time limit ran out before a short witness cycle was found.",
                        ] + ops.prefix(10).map { h.introduce($0) })
                    }
                }
            } else {
                allowedCycles += 1
            }
        }
        if allowedCycles > 0 {
            out.notes.append("\(allowedCycles) dependency cycle(s) with adjacent rw edges only (G2-item, e.g. write skew): allowed under snapshot isolation")
        }
        timings.search = clock.now - searchStart
        return out
    }
}
