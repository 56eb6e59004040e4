import Foundation
import Checker

/// summary.html: one self-contained page (inline CSS, no scripts): the verdict, the table, and per scenario a
/// strip with one square per seed (green met, red not met, amber no verdict; a dot marks failed checks, i.e.
/// the catches of an `expect: fail` scenario), each square a link to that run's report.
public enum CampaignHTML {
    /// `links`: where each run's artifacts are, relative to the summary's directory (absent: no link).
    public static func render(_ s: CampaignSummary, results: [CampaignResult], links: [CampaignRunID: String] = [:]) -> String {
        let rows = CampaignSummary.unique(results)
        let t = s.totals
        let verdict: (String, String) =
            t.harnessErrors > 0 || t.missing > 0 ? ("error", "\(t.harnessErrors) runs gave no verdict, \(t.missing) missing")
            : t.notMet > 0 ? ("fail", "\(t.notMet) of \(t.runs) runs did not meet their expectation")
            : ("pass", "all \(t.runs) runs met their expectation")
        var body: [HTMLNode] = [
            .el("h1", [("class", verdict.0)], text: verdict.1),
            .el("p", text: "\(s.scenarios.count) scenarios, \(t.runs) runs: \(t.met) met, \(t.notMet) not met, \(t.harnessErrors) without a verdict"
                + (t.missing > 0 ? ", \(t.missing) missing" : "") + "."),
            table(s),
        ]
        for x in s.scenarios {
            body.append(section(x, rows: rows.filter { $0.scenario == x.scenario }, links: links))
        }
        if !s.missingRuns.isEmpty {
            body.append(.el("h2", text: "Missing runs"))
            body.append(.el("p", text: s.missingRuns.map { "\($0.scenario) seed \($0.seed)" }.joined(separator: ", ")))
        }
        body.append(.el("p", [("class", "meta")], text: timingLine(s.timing) + (s.sources.isEmpty ? "" : " Sources: " + s.sources.joined(separator: ", ") + ".")))

        let page = HTMLNode.el("html", [], [
            .el("head", [], [
                .el("meta", [("charset", "utf-8")]),
                .el("title", text: "dqlite-chaos campaign: " + verdict.1),
                .el("style", [], [.trusted(css)]),
            ]),
            .el("body", [], body),
        ])
        return "<!DOCTYPE html>\n" + page.render() + "\n"
    }

    static let css: StaticString = """
    body { font-family: sans-serif; margin: 20px; color: #222; }
    h1.pass { color: #2a7d2a; } h1.fail { color: #c62828; } h1.error { color: #b26a00; }
    table { border-collapse: collapse; margin: 12px 0; }
    th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
    td.n { text-align: right; font-variant-numeric: tabular-nums; }
    td.bad { background: #ffebee; } td.warn { background: #fff3e0; } td.good { background: #e8f5e9; }
    code { font-size: 12px; background: #f5f5f5; padding: 1px 3px; }
    .strip a, .strip span { display: inline-block; width: 14px; height: 14px; margin: 1px; border-radius: 2px;
      text-decoration: none; font-size: 10px; line-height: 14px; text-align: center; color: #fff; }
    .met { background: #66bb6a; } .notmet { background: #e53935; } .noverdict { background: #ffa000; }
    .meta { color: #777; font-size: 12px; }
    pre { background: #f5f5f5; padding: 6px; font-size: 12px; white-space: pre-wrap; }
    """

    static func table(_ s: CampaignSummary) -> HTMLNode {
        let head = HTMLNode.el("tr", [], ["scenario", "expect", "runs", "met", "not met", "no verdict", "checks failed", "anomalies (runs)", "first failing seed"]
            .map { HTMLNode.el("th", text: $0) })
        var trs = [head]
        for x in s.scenarios {
            let anomalies = x.anomalies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            trs.append(.el("tr", [], [
                .el("td", [("title", x.scenarioPath)], [.el("a", [("href", "#" + anchor(x.scenario))], text: x.scenario)]),
                .el("td", text: x.expect),
                .el("td", [("class", "n")], text: "\(x.runs)"),
                .el("td", [("class", x.met == x.runs ? "n good" : "n")], text: "\(x.met)"),
                .el("td", [("class", x.notMet > 0 ? "n bad" : "n")], text: "\(x.notMet)"),
                .el("td", [("class", x.harnessErrors > 0 ? "n warn" : "n")], text: "\(x.harnessErrors)"),
                .el("td", [("class", "n")], text: "\(x.checksFailed)"),
                .el("td", text: anomalies.isEmpty ? "-" : anomalies),
                .el("td", text: x.firstFailingSeed.map(String.init) ?? "-"),
            ]))
        }
        return .el("table", [], trs)
    }

    static func section(_ x: ScenarioSummary, rows: [CampaignResult], links: [CampaignRunID: String]) -> HTMLNode {
        var children: [HTMLNode] = [
            .el("h2", [("id", anchor(x.scenario))], text: x.scenario),
            .el("p", [], [.text("File "), .el("code", text: x.scenarioPath), .text(", expect: \(x.expect).")]),
        ]
        let squares: [HTMLNode] = rows.map { r in
            let cls = r.isHarnessError ? "noverdict" : r.met ? "met" : "notmet"
            var title = "seed \(r.seed): " + (r.isHarnessError ? "no verdict" : r.met ? "met" : "not met")
            if !r.failedChecks.isEmpty { title += "; checks failed: " + r.failedChecks.joined(separator: ", ") }
            if !r.anomalies.isEmpty { title += "; anomalies: " + r.anomalies.joined(separator: ", ") }
            let mark = r.failedChecks.isEmpty ? "" : "\u{2022}"
            if let href = links[r.id] {
                return .el("a", [("class", cls), ("title", title), ("href", href)], text: mark)
            }
            return .el("span", [("class", cls), ("title", title)], text: mark)
        }
        children.append(.el("div", [("class", "strip")], squares))
        if let caught = x.caughtSeeds {
            children.append(.el("p", text: "Caught (a check failed, as expected) in \(caught.count) of \(x.runs) runs"
                + (caught.isEmpty ? "." : ": seeds \(SeedList.format(caught)).")))
        }
        if let first = x.firstFailingSeed {
            children.append(.el("p", [], [.text("First failing seed \(first), reproduce with "), .el("code", text: x.firstFailingReproduce ?? "")]))
            let failing = rows.filter { !$0.met }.prefix(20)
            children.append(.el("ul", [], failing.map { r in
                var item: [HTMLNode] = [.text("seed \(r.seed): "), .el("code", text: r.reproduce)]
                if !r.failedChecks.isEmpty { item.append(.text(" (checks failed: " + r.failedChecks.joined(separator: ", ") + ")")) }
                if let e = r.error { item.append(.el("pre", text: e)) }
                return .el("li", [], item)
            }))
        }
        return .el("section", [], children)
    }

    static func anchor(_ name: String) -> String {
        "s-" + String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : "-" })
    }

    static func timingLine(_ t: CampaignTiming) -> String {
        var s = String(format: "Run time %.0f s in all", t.runsS)
        if let e = t.elapsedS { s += String(format: ", %.0f s elapsed", e) }
        s += "; mean per run: " + t.scenarios.map { $0.scenario + String(format: " %.1f s", $0.meanS) }.joined(separator: ", ") + "."
        return s
    }
}
