// Throughput and latency over a run, with the fault bands across them, as Jepsen's rate and latency plots:
// from the history (what clients saw) and, when the bed scraped the nodes, from their metrics (what each node
// committed, and how long its commits took). Inline SVG built as an HTMLNode tree, so every value is escaped.
#if canImport(Glibc)
import Glibc
#endif

enum PerformancePlots {
    struct Series {
        var name: String
        var color: String
        var points: [(t: Int64, v: Double)]
    }

    static let outcomeColors: [(Outcome, String, String)] = [(.ok, "ok", "#2e7d32"), (.fail, "failed", "#757575"), (.info, "unknown outcome", "#ef8f00")]
    static let nodeColors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]

    /// The plots' section of the report.
    static func section(_ h: History, samples: [MetricsSample], faults: [HTMLReport.FaultInterval], end: Int64) -> [HTMLNode] {
        var out: [HTMLNode] = [.el("h2", text: "Throughput and latency")]
        out.append(.el("p", text: "Red bands are faults. Throughput counts operations completed in each second, by outcome; latency is each completed operation's, from invocation to completion (log scale)."))
        out.append(chart(title: "Throughput (operations completed per second)", unit: "ops/s", series: throughput(h, end: end),
                         faults: faults, end: end, log: false, dots: false))
        out.append(chart(title: "Latency (ms) of each operation, at its invocation", unit: "ms", series: latency(h),
                         faults: faults, end: end, log: true, dots: true))
        guard !samples.isEmpty else {
            out.append(.el("p", text: "No node metrics were scraped in this run (target without a metrics endpoint)."))
            return out
        }
        out.append(.el("p", text: "From each node's metrics, scraped about every second (metrics.jsonl): transactions it committed per second as leader, and the mean time from proposal to commit in each interval."))
        out.append(chart(title: "Commits per second, by node", unit: "commits/s",
                         series: perNode(samples) { a, b, dt in rate(a, b, "dqlite_committed_transactions_total", dt) },
                         faults: faults, end: end, log: false, dots: false))
        out.append(chart(title: "Mean commit latency (ms), by node", unit: "ms",
                         series: perNode(samples) { a, b, _ in meanMs(a, b, "dqlite_commit_duration_seconds") },
                         faults: faults, end: end, log: true, dots: false))
        return out
    }

    /// Operations completed in each second, one series per outcome.
    static func throughput(_ h: History, end: Int64) -> [Series] {
        let seconds = Int(end / 1_000_000_000) + 1
        var counts = [[Double]](repeating: [Double](repeating: 0, count: seconds), count: outcomeColors.count)
        for o in h.operations where o.completed {
            guard let k = outcomeColors.firstIndex(where: { $0.0 == o.outcome }) else { continue }
            counts[k][min(seconds - 1, max(0, Int(o.completeTime / 1_000_000_000)))] += 1
        }
        return outcomeColors.enumerated().map { k, c in
            Series(name: c.1, color: c.2, points: counts[k].enumerated().map { (Int64($0.offset) * 1_000_000_000 + 500_000_000, $0.element) })
        }
    }

    /// Each completed operation's latency at its invocation time, by outcome; at most `maxPoints` in all
    /// (evenly thinned), so the file stays small.
    static func latency(_ h: History, maxPoints: Int = 6000) -> [Series] {
        let done = h.operations.filter { $0.completed && $0.process < 1_000_000 }
        let step = max(1, (done.count + maxPoints - 1) / maxPoints)
        return outcomeColors.map { outcome, name, color in
            Series(name: name, color: color, points: stride(from: 0, to: done.count, by: step).compactMap { i in
                let o = done[i]
                guard o.outcome == outcome else { return nil }
                return (o.invokeTime, max(0.01, Double(o.completeTime - o.invokeTime) / 1e6))
            })
        }
    }

    /// One series per node of `value` between consecutive samples of that node (nil: no point).
    static func perNode(_ samples: [MetricsSample], _ value: (MetricsSample, MetricsSample, Double) -> Double?) -> [Series] {
        let nodes = Set(samples.map(\.node)).sorted()
        return nodes.map { n in
            let mine = samples.filter { $0.node == n }.sorted { $0.time < $1.time }
            var points: [(Int64, Double)] = []
            for (a, b) in zip(mine, mine.dropFirst()) {
                let dt = Double(b.time - a.time) / 1e9
                if dt > 0, let v = value(a, b, dt) { points.append(((a.time + b.time) / 2, v)) }
            }
            return Series(name: "n\(n)", color: nodeColors[(n - 1) % nodeColors.count], points: points)
        }
    }

    /// A counter's rate; nothing across a restart (the counter starts again from zero).
    static func rate(_ a: MetricsSample, _ b: MetricsSample, _ name: String, _ dt: Double) -> Double? {
        guard let x = a.values[name], let y = b.values[name], y >= x else { return nil }
        return (y - x) / dt
    }

    /// A histogram's mean in ms over the interval (sum and count deltas); nothing when nothing was observed.
    static func meanMs(_ a: MetricsSample, _ b: MetricsSample, _ name: String) -> Double? {
        guard let s0 = a.values[name + "_sum"], let s1 = b.values[name + "_sum"], let c0 = a.values[name + "_count"],
              let c1 = b.values[name + "_count"], c1 > c0, s1 >= s0 else { return nil }
        return max(0.01, (s1 - s0) / (c1 - c0) * 1000)
    }

    // MARK: drawing

    static let left = 60.0, width = 1000.0, top = 24.0, height = 180.0, right = 140.0

    static func chart(title: String, unit: String, series: [Series], faults: [HTMLReport.FaultInterval], end: Int64,
                      log: Bool, dots: Bool) -> HTMLNode {
        let values = series.flatMap { $0.points.map(\.v) }
        let maxV = max(values.max() ?? 1, log ? 1 : 1e-9)
        let minV = log ? max(0.01, min(values.min() ?? 0.1, maxV / 10)) : 0
        let (lo, hi) = log ? (floorLog(minV), ceilLog(maxV)) : (0.0, niceCeiling(maxV))
        func x(_ t: Int64) -> Double { left + Double(min(max(t, 0), end)) / Double(max(end, 1)) * width }
        func y(_ v: Double) -> Double {
            let f = log ? (log10(max(v, minV)) - lo) / max(hi - lo, 1e-9) : v / max(hi, 1e-9)
            return top + height - min(1, max(0, f)) * height
        }
        var children: [HTMLNode] = [.el("text", [("x", "4"), ("y", "14"), ("font-weight", "bold")], text: title)]
        for f in faults where f.stop >= 0 {
            let x0 = x(f.start), x1 = max(x(f.stop), x0 + 2)
            children.append(.el("rect", [("x", fmt(x0)), ("y", fmt(top)), ("width", fmt(x1 - x0)), ("height", fmt(height)), ("class", "fault")],
                                [.el("title", text: f.title)]))
        }
        // Axes, with ticks: seconds below, values on the left.
        children.append(.el("line", [("x1", fmt(left)), ("y1", fmt(top + height)), ("x2", fmt(left + width)), ("y2", fmt(top + height)), ("stroke", "#888")]))
        children.append(.el("line", [("x1", fmt(left)), ("y1", fmt(top)), ("x2", fmt(left)), ("y2", fmt(top + height)), ("stroke", "#888")]))
        let seconds = Double(end) / 1e9
        let tickStep = niceCeiling(max(seconds / 10, 1))
        for s in stride(from: 0.0, through: seconds, by: tickStep) {
            let tx = x(Int64(s * 1e9))
            children.append(.el("text", [("x", fmt(tx - 6)), ("y", fmt(top + height + 14))], text: "\(Int(s))s"))
        }
        let ticks: [Double] = log ? stride(from: lo, through: hi, by: 1).map { pow(10, $0) } : stride(from: 0, through: hi, by: hi / 4).map { $0 }
        for v in ticks {
            children.append(.el("line", [("x1", fmt(left - 4)), ("y1", fmt(y(v))), ("x2", fmt(left + width)), ("y2", fmt(y(v))), ("stroke", "#eee")]))
            children.append(.el("text", [("x", "4"), ("y", fmt(y(v) + 3))], text: label(v)))
        }
        for (i, s) in series.enumerated() {
            if dots {
                children.append(.el("g", [("fill", s.color), ("fill-opacity", "0.6")], s.points.map { p in
                    .el("circle", [("cx", fmt(x(p.t))), ("cy", fmt(y(p.v))), ("r", "1.6")])
                }))
            } else if !s.points.isEmpty {
                let d = s.points.map { "\(fmt(x($0.t))),\(fmt(y($0.v)))" }.joined(separator: " ")
                children.append(.el("polyline", [("points", d), ("fill", "none"), ("stroke", s.color), ("stroke-width", "1.5")]))
            }
            let ly = top + 12 + Double(i) * 14
            children.append(.el("rect", [("x", fmt(left + width + 12)), ("y", fmt(ly - 8)), ("width", "10"), ("height", "10"), ("fill", s.color)]))
            children.append(.el("text", [("x", fmt(left + width + 26)), ("y", fmt(ly))], text: "\(s.name) (\(s.points.count))"))
        }
        children.append(.el("title", text: "\(title), \(unit)"))
        return .el("div", [("class", "timeline")], [
            .el("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", fmt(left + width + right)), ("height", fmt(top + height + 22)),
                        ("font-family", "sans-serif"), ("font-size", "10")], children),
        ])
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func label(_ v: Double) -> String { v >= 100 || v == v.rounded() ? String(Int(v.rounded())) : fmt(v) }

    /// 1, 2 or 5 times a power of ten, at least `v`.
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        var p = 1.0
        while p * 10 <= v { p *= 10 }
        while p > v { p /= 10 }
        for m in [1.0, 2, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    static func floorLog(_ v: Double) -> Double { log10(v).rounded(.down) }
    static func ceilLog(_ v: Double) -> Double { max(log10(v).rounded(.up), floorLog(v) + 1) }
}
