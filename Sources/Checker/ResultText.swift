// The result for people at a terminal: the verdict first, then each anomaly with its explanation.

extension CheckResult {
    public func text(_ h: History) -> String {
        var out: [String] = []
        let counts = anomalyCounts.map { "\($0.type) ×\($0.count)" }.joined(separator: ", ")
        out.append("\(verdict.rawValue.uppercased()): \(operationCount) operations, model \(model.rawValue), checked for \(consistency.rawValue)\(counts.isEmpty ? "" : "; anomalies: \(counts)")")
        for (i, a) in anomalies.enumerated() {
            out.append("")
            out.append("\(i + 1). \(a.type)\(a.key.map { " (key \($0))" } ?? "")")
            for line in a.explanation { out.append("   " + line) }
        }
        let shown = anomalies.count, total = anomalyCounts.reduce(0) { $0 + $1.count }
        if total > shown { out.append(""); out.append("(\(total - shown) more anomalies not shown; counts above)") }
        for u in unknownReasons { out.append("unknown: " + u) }
        for n in notes { out.append("note: " + n) }
        out.append("time: parse \(seconds(timings.parse)) s, build \(seconds(timings.build)) s, search \(seconds(timings.search)) s")
        return out.joined(separator: "\n")
    }
}
