/// The summary as plain aligned text, printed at the end of a campaign and of a merge. Built only from the
/// summary's deterministic part, so shards merged print exactly what the unsharded campaign printed.
public enum CampaignTable {
    public static func render(_ s: CampaignSummary) -> String {
        var rows: [[String]] = [["scenario", "expect", "runs", "met", "not met", "errors", "checks failed", "first failing seed"]]
        for x in s.scenarios {
            rows.append([x.scenario, x.expect, "\(x.runs)", "\(x.met)", "\(x.notMet)", "\(x.harnessErrors)", "\(x.checksFailed)",
                         x.firstFailingSeed.map(String.init) ?? "-"])
        }
        let t = s.totals
        rows.append(["total", "", "\(t.runs)", "\(t.met)", "\(t.notMet)", "\(t.harnessErrors)", "\(s.scenarios.reduce(0) { $0 + $1.checksFailed })", ""])
        var out = align(rows, rightAligned: 2...6)

        let withAnomalies = s.scenarios.filter { !$0.anomalies.isEmpty }
        if !withAnomalies.isEmpty {
            out += "\nanomalies (runs per class):\n"
            for x in withAnomalies {
                out += "  \(x.scenario): " + x.anomalies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
        }
        let expectFail = s.scenarios.filter { $0.caughtSeeds != nil }
        if !expectFail.isEmpty {
            out += "\ncaught (expect: fail, a check failed):\n"
            for x in expectFail {
                let caught = x.caughtSeeds ?? []
                out += "  \(x.scenario): \(caught.count) of \(x.runs) runs" + (caught.isEmpty ? "" : ", seeds \(SeedList.format(caught))") + "\n"
            }
        }
        let failing = s.scenarios.filter { $0.firstFailingSeed != nil }
        if !failing.isEmpty {
            out += "\nfailing (did not meet the expectation, or no verdict):\n"
            for x in failing {
                let seeds = SeedList.format(x.notMetSeeds + x.harnessErrorSeeds)
                out += "  \(x.scenario): seeds \(seeds)" + (x.harnessErrorSeeds.isEmpty ? "" : " (no verdict: \(SeedList.format(x.harnessErrorSeeds)))") + "\n"
                out += "    first: \(x.firstFailingReproduce ?? "")\n"
            }
        }
        if !s.missingRuns.isEmpty {
            out += "\nmissing: \(s.missingRuns.count) runs of the campaign have no result (a shard not merged, or a campaign that died)\n"
            var bySeeds: [String: [UInt64]] = [:]
            for m in s.missingRuns { bySeeds[m.scenario, default: []].append(m.seed) }
            for name in bySeeds.keys.sorted() { out += "  \(name): seeds \(SeedList.format(bySeeds[name]!))\n" }
        }
        return out
    }

    static func align(_ rows: [[String]], rightAligned: ClosedRange<Int>) -> String {
        var widths = [Int](repeating: 0, count: rows[0].count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return rightAligned.contains(i) ? pad + c : c + pad
            }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }.joined()
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
