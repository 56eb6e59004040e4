/// One scrape of one node's metrics during a chaos run (a line of the run's `metrics.jsonl`): the node's
/// Prometheus series (name with its labels, as exposed; histogram buckets left out) at `time`, nanoseconds
/// since the run started, on the history's clock.
public struct MetricsSample: Codable, Sendable, Equatable {
    public var time: Int64
    /// 1-based, as the bed names nodes.
    public var node: Int
    public var values: [String: Double]

    public init(time: Int64, node: Int, values: [String: Double]) {
        self.time = time
        self.node = node
        self.values = values
    }

    /// The series of Prometheus's text format in `text`: `name{labels} value` lines, comments and histogram
    /// buckets skipped (the plots need counts and sums; buckets would multiply the file's size).
    public static func parse(exposition text: Substring) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let name = line[..<space]
            if name.hasPrefix("dqlite_") && !name.contains("_bucket") { out[String(name)] = value }
        }
        return out
    }
}
