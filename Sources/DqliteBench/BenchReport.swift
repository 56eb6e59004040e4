import DqliteClient

/// One operation of a timeline: when it started (since the run's start) and how long it took.
public struct TimedOperation: Sendable {
    public var startNs: UInt64
    public var latencyNs: UInt64
    public var isWrite: Bool
}

/// What one query type did during a run.
public struct QueryReport: Sendable {
    public var latencies = LatencyStats()
    /// Failed operations by error class.
    public var errors: [DqliteError.Kind: Int] = [:]

    public var ok: Int { latencies.count }
    public var failed: Int { errors.values.reduce(0, +) }

    mutating func merge(_ o: QueryReport) {
        latencies.merge(o.latencies)
        for (k, v) in o.errors { errors[k, default: 0] += v }
    }
}

public struct BenchReport: Sendable {
    public var options: BenchOptions
    public var elapsed: Duration
    public var exec = QueryReport()
    public var query = QueryReport()
    /// User + system CPU time this process spent during the run.
    public var cpu: Duration
    /// Every successful operation, when `BenchOptions.keepTimeline` (else empty), in no particular order.
    public var timeline: [TimedOperation] = []
    /// Wall-clock time (Unix epoch, nanoseconds) of the run's start, to line the timeline up with node logs.
    public var startedAtUnixNs: UInt64 = 0

    public var seconds: Double { Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
    public var operations: Int { exec.ok + exec.failed + query.ok + query.failed }

    /// CPU time per attempted operation, in microseconds.
    public var cpuMicrosPerOperation: Double {
        operations == 0 ? 0 : (Double(cpu.components.seconds) * 1e6 + Double(cpu.components.attoseconds) / 1e12) / Double(operations)
    }

    /// The timeline as CSV, in start order: start and latency in milliseconds, and the operation.
    public func timelineCSV() -> String {
        var out = "# run started at unix ms \(startedAtUnixNs / 1_000_000)\nstart_ms,latency_ms,op\n"
        for t in timeline.sorted(by: { $0.startNs < $1.startNs }) {
            out += "\(String(format3: Double(t.startNs) / 1e6)),\(String(format3: Double(t.latencyNs) / 1e6)),\(t.isWrite ? "exec" : "query")\n"
        }
        return out
    }

    public func text() -> String {
        let o = options
        var lines = ["workload \(o.workload.rawValue), \(o.workers) worker(s), \(String(format2: seconds)) s, key \(o.keySize) B, value \(o.valueSize) B, cluster \(o.cluster.joined(separator: ","))"]
        for (name, r) in [("exec", exec), ("query", query)] where r.ok + r.failed > 0 {
            let rate = Double(r.ok) / max(seconds, 1e-9)
            let locked = r.errors[.busy, default: 0]
            let notLeader = r.errors[.notLeader, default: 0]
            let other = r.failed - locked - notLeader
            lines.append("\(name): \(r.ok) ok, \(String(format2: rate)) ops/s; errors: locked/busy \(locked), not leader \(notLeader), other \(other)")
            if let s = r.latencies.summary() {
                lines.append("  latency ms: p50 \(String(format3: s.p50)) p90 \(String(format3: s.p90)) p99 \(String(format3: s.p99)) max \(String(format3: s.max))")
            }
        }
        lines.append("client CPU: \(String(format2: cpuMicrosPerOperation)) us per operation (\(operations) attempted)")
        return lines.joined(separator: "\n")
    }

    /// The figures as one JSON object (for scripts that compare runs).
    public func json() -> String {
        func q(_ r: QueryReport) -> String {
            let s = r.latencies.summary()
            let errors = DqliteError.Kind.allCases.compactMap { k in r.errors[k].map { "\"\(k.rawValue)\":\($0)" } }.joined(separator: ",")
            return "{\"ok\":\(r.ok),\"ops_per_s\":\(Double(r.ok) / max(seconds, 1e-9)),\"errors\":{\(errors)},"
                + "\"p50_ms\":\(s?.p50 ?? 0),\"p90_ms\":\(s?.p90 ?? 0),\"p99_ms\":\(s?.p99 ?? 0),\"max_ms\":\(s?.max ?? 0)}"
        }
        return "{\"workload\":\"\(options.workload.rawValue)\",\"workers\":\(options.workers),\"seconds\":\(seconds),"
            + "\"exec\":\(q(exec)),\"query\":\(q(query)),\"cpu_us_per_op\":\(cpuMicrosPerOperation)}"
    }
}

extension String {
    init(format2 v: Double) { self = Self.fixed(v, 2) }
    init(format3 v: Double) { self = Self.fixed(v, 3) }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return String(v) }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(v) * scale).rounded()
        let whole = Int(scaled / scale)
        let frac = Int(scaled - Double(whole) * scale)
        let fracText = String(frac)
        return (v < 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - fracText.count) + fracText
    }
}
