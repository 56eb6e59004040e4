// A self-contained HTML report (inline SVG and CSS, no scripts or external assets): a timeline with one lane
// per process, fault intervals drawn across it, the anomalous operations outlined and each witness cycle
// drawn as arrows between its operations; then every anomaly's explanation. Large histories are cut to a
// window around the anomalies so the file stays small enough for a browser.

public enum HTMLReport {
    static let maxOperations = 3000
    static let palette = ["#d62728", "#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]

    /// `samples`: the nodes' metrics scraped during the run, for the plots of what each node committed.
    public static func render(_ h: History, _ r: CheckResult, samples: [MetricsSample] = []) -> String {
        let end = max(h.endTime, 1)
        let (shown, windowNote) = window(h, r)
        let t0 = shown.map { h.operations[$0].invokeTime }.min() ?? 0
        let t1 = max(t0 + 1, shown.map { h.operations[$0].completed ? h.operations[$0].completeTime : end }.max() ?? end)
        let processes = Array(Set(shown.map { h.operations[$0].process })).sorted()
        var lane: [Int64: Int] = [:]
        for (i, p) in processes.enumerated() { lane[p] = i }

        let left = 90.0, width = 1100.0, laneHeight = 16.0, top = 30.0
        let height = top + Double(processes.count) * laneHeight + 20
        func x(_ t: Int64) -> Double { left + Double(max(0, min(t, t1) - t0)) / Double(t1 - t0) * width }
        func y(_ op: Int) -> Double { top + Double(lane[h.operations[op].process]!) * laneHeight }

        var colorOf: [Int: String] = [:]         // anomalous op → colour of its first anomaly
        for (i, a) in r.anomalies.enumerated() {
            for op in a.operations where colorOf[op] == nil { colorOf[op] = palette[i % palette.count] }
        }

        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"10\">\n"
        svg += "<defs>" + palette.enumerated().map { i, c in
            "<marker id=\"arrow\(i)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(c)\"/></marker>"
        }.joined() + "</defs>\n"

        // Faults first, so operations draw over them.
        for f in faultIntervals(h, end: end) where f.stop >= t0 && f.start <= t1 {
            let x0 = x(max(f.start, t0)), x1 = max(x(f.stop), x0 + 2)
            svg += "<rect class=\"fault\" x=\"\(fmt(x0))\" y=\"\(fmt(top - 12))\" width=\"\(fmt(x1 - x0))\" height=\"\(fmt(height - top + 4))\"><title>\(escape(f.title))</title></rect>"
            svg += "<text x=\"\(fmt(x0 + 2))\" y=\"\(fmt(top - 3))\" class=\"faultlabel\">\(escape(f.name))</text>\n"
        }
        for (i, p) in processes.enumerated() {
            svg += "<text x=\"4\" y=\"\(fmt(top + Double(i) * laneHeight + 11))\">process \(p)</text>"
        }
        svg += "\n"
        for op in shown {
            let o = h.operations[op]
            let x0 = x(o.invokeTime), x1 = max(x(o.completed ? o.completeTime : t1), x0 + 3)
            let cls = o.outcome == .ok ? "ok" : o.outcome == .fail ? "fail" : "info"
            let stroke = colorOf[op].map { " style=\"stroke:\($0);stroke-width:2.5\"" } ?? ""
            svg += "<rect class=\"\(cls)\" x=\"\(fmt(x0))\" y=\"\(fmt(y(op) + 2))\" width=\"\(fmt(x1 - x0))\" height=\"\(fmt(laneHeight - 4))\"\(stroke)><title>\(escape(h.introduce(op)))</title></rect>\n"
        }
        let visible = Set(shown)
        for (i, a) in r.anomalies.enumerated() where !a.cycle.isEmpty {
            let color = palette[i % palette.count]
            for s in a.cycle where visible.contains(s.from) && visible.contains(s.to) {
                let (fx, fy) = (mid(h, s.from, x), y(s.from) + laneHeight / 2)
                let (tx, ty) = (mid(h, s.to, x), y(s.to) + laneHeight / 2)
                let bend = (fx + tx) / 2 + (fy == ty ? 0 : 30), by = (fy + ty) / 2 - (fy == ty ? 24 : 0)
                svg += "<path d=\"M\(fmt(fx)),\(fmt(fy)) Q\(fmt(bend)),\(fmt(by)) \(fmt(tx)),\(fmt(ty))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" marker-end=\"url(#arrow\(i % palette.count))\"><title>\(escape("\(h.name(s.from)) < \(h.name(s.to)) (\(s.edge)): \(s.why)"))</title></path>"
                svg += "<text x=\"\(fmt(bend))\" y=\"\(fmt(by - 2))\" fill=\"\(color)\">\(s.edge)</text>\n"
            }
        }
        svg += "</svg>"

        var html = """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>dqlite-chaos check: \(r.verdict.rawValue)</title>
        <style>
        body { font-family: sans-serif; margin: 20px; color: #222; }
        .verdict-valid { color: #2a7d2a; } .verdict-invalid { color: #c62828; } .verdict-unknown { color: #b26a00; }
        rect.ok { fill: #a5d6a7; stroke: #4c8c4a; stroke-width: 0.5; }
        rect.fail { fill: #e0e0e0; stroke: #9e9e9e; stroke-width: 0.5; }
        rect.info { fill: #ffe0a3; stroke: #c98a00; stroke-width: 0.5; stroke-dasharray: 3 2; }
        rect.fault { fill: #ef5350; fill-opacity: 0.10; stroke: #ef5350; stroke-opacity: 0.4; }
        text.faultlabel { fill: #b71c1c; }
        .timeline { overflow-x: auto; border: 1px solid #ddd; padding: 4px; }
        li { margin-bottom: 12px; } li p { margin: 2px 0; font-family: monospace; font-size: 12px; white-space: pre-wrap; }
        .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: middle; }
        </style></head><body>
        <h1 class="verdict-\(r.verdict.rawValue)">\(r.verdict.rawValue.uppercased())</h1>
        <p>\(r.operationCount) operations, model <b>\(r.model.rawValue)</b>, checked for <b>\(r.consistency.rawValue)</b>.
        \(r.anomalyCounts.isEmpty ? "No anomalies." : "Anomalies: " + r.anomalyCounts.map { "\(escape($0.type)) ×\($0.count)" }.joined(separator: ", ") + ".")</p>

        """
        if !h.metadata.isEmpty {
            html += "<p>Metadata: " + h.metadata.map { "<b>\(escape($0.key))</b> \(escape($0.value))" }.joined(separator: ", ") + "</p>\n"
        }
        html += "<p>Timeline (lanes are processes; green ok, grey failed, dashed amber unknown outcome; red bands are faults)\(windowNote.isEmpty ? "" : ": " + escape(windowNote)).</p>\n"
        html += "<div class=\"timeline\">\(svg)</div>\n"
        if !r.anomalies.isEmpty {
            html += "<h2>Anomalies</h2>\n<ol>\n"
            for (i, a) in r.anomalies.enumerated() {
                html += "<li><span class=\"swatch\" style=\"background:\(palette[i % palette.count])\"></span><b>\(escape(a.type))</b>\(a.key.map { " (key \($0))" } ?? "")"
                for line in a.explanation { html += "<p>\(escape(line))</p>" }
                html += "</li>\n"
            }
            html += "</ol>\n"
        }
        html += PerformancePlots.section(h, samples: samples, faults: faultIntervals(h, end: end), end: end).map { $0.render() }.joined()
        for u in r.unknownReasons { html += "<p>Unknown: \(escape(u))</p>\n" }
        for n in r.notes { html += "<p>Note: \(escape(n))</p>\n" }
        html += "</body></html>\n"
        return html
    }

    private static func mid(_ h: History, _ op: Int, _ x: (Int64) -> Double) -> Double {
        let o = h.operations[op]
        return (x(o.invokeTime) + x(o.completed ? o.completeTime : o.invokeTime)) / 2
    }

    /// Operations to draw: all of them in a small history, else those nearest in time to the anomalies.
    private static func window(_ h: History, _ r: CheckResult) -> ([Int], String) {
        let n = h.operations.count
        if n <= maxOperations { return (Array(0..<n), "") }
        let focus = Set(r.anomalies.flatMap(\.operations))
        let center: Int64
        if focus.isEmpty { center = h.operations[0].invokeTime } else {
            let times = focus.map { h.operations[$0].invokeTime }.sorted()
            center = times[times.count / 2]
        }
        let near = (0..<n).filter { !focus.contains($0) }
            .sorted { abs(h.operations[$0].invokeTime - center) < abs(h.operations[$1].invokeTime - center) }
            .prefix(max(0, maxOperations - focus.count))
        let chosen = (Array(focus) + near).sorted()
        return (chosen, "showing \(chosen.count) of \(n) operations: those of the anomalies and the nearest in time to them")
    }

    struct FaultInterval { var name: String; var start: Int64; var stop: Int64; var title: String }

    /// The integer after `"id":` at the top of a fault's detail (the bed's nemesis writes it first).
    static func faultID(_ detail: String) -> Int? {
        let prefix = #"{"id":"#
        guard detail.hasPrefix(prefix) else { return nil }
        return Int(detail.dropFirst(prefix.count).prefix { $0.isNumber })
    }

    /// Pairs each stop with its start: the open start with the same `"id"` in its detail when the stop has one
    /// (faults of one kind may overlap), else the oldest open start of the same fault (or any, if the stop
    /// names none).
    static func faultIntervals(_ h: History, end: Int64) -> [FaultInterval] {
        var open: [FaultEvent] = []
        var out: [FaultInterval] = []
        for f in h.faults {
            if f.start { open.append(f); continue }
            let id = faultID(f.detail)
            if let i = open.firstIndex(where: { id != nil ? faultID($0.detail) == id && $0.fault == f.fault : (f.fault.isEmpty || $0.fault == f.fault) }) {
                let s = open.remove(at: i)
                out.append(FaultInterval(name: s.fault, start: s.time, stop: f.time, title: "\(s.fault) \(s.detail) (lines \(s.line)-\(f.line))"))
            }
        }
        for s in open { out.append(FaultInterval(name: s.fault, start: s.time, stop: end, title: "\(s.fault) \(s.detail) (line \(s.line), never stopped)")) }
        return out
    }

    private static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
