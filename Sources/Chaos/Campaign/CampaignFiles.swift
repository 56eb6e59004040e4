import Foundation

/// The files of a campaign's out dir: `campaign.json` (the plan), `results.jsonl` (a row per finished run),
/// `summary.json`, `summary.html`, and `runs/<scenario>-<seed>/` with `runs/<scenario>-<seed>.log`.
public enum CampaignFiles {
    public static func planPath(_ dir: String) -> String { dir + "/campaign.json" }
    public static func resultsPath(_ dir: String) -> String { dir + "/results.jsonl" }
    public static func runDirectory(_ dir: String, _ key: String) -> String { dir + "/runs/" + key }
    public static func logPath(_ dir: String, _ key: String) -> String { dir + "/runs/" + key + ".log" }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    public static func writePlan(_ plan: CampaignPlan, to dir: String) throws {
        try encoder().encode(plan).write(to: URL(fileURLWithPath: planPath(dir)))
    }

    public static func readPlan(_ dir: String) -> CampaignPlan? {
        guard let data = FileManager.default.contents(atPath: planPath(dir)) else { return nil }
        return try? JSONDecoder().decode(CampaignPlan.self, from: data)
    }

    /// summary.json and summary.html; `links` point from `dir` to each run's report.
    public static func writeSummary(_ s: CampaignSummary, results: [CampaignResult], links: [CampaignRunID: String], to dir: String) throws {
        try s.json().write(to: URL(fileURLWithPath: dir + "/summary.json"))
        try Data(CampaignHTML.render(s, results: results, links: links).utf8).write(to: URL(fileURLWithPath: dir + "/summary.html"))
    }

    /// Where a run's report is, relative to `from` (the summary's dir): its report.html when it has one, else
    /// its log. Relative, so a downloaded CI artifact's links still work.
    public static func link(from: String, runsIn dir: String, key: String) -> String? {
        let fm = FileManager.default
        let report = runDirectory(dir, key) + "/report.html"
        let target = fm.fileExists(atPath: report) ? report : fm.fileExists(atPath: logPath(dir, key)) ? logPath(dir, key) : nil
        return target.map { relativePath(from: from, to: $0) }
    }

    static func relativePath(from base: String, to path: String) -> String {
        func parts(_ p: String) -> [String] {
            URL(fileURLWithPath: p).standardizedFileURL.path.split(separator: "/").map(String.init)
        }
        let b = parts(base), t = parts(path)
        var common = 0
        while common < b.count && common < t.count && b[common] == t[common] { common += 1 }
        return (Array(repeating: "..", count: b.count - common) + t[common...]).joined(separator: "/")
    }
}

/// results.jsonl, appended a line per finished run and flushed at once: what a dead campaign leaves behind
/// is every run it finished.
final class ResultsFile {
    private let handle: FileHandle

    /// Starts the file afresh: rows of an earlier campaign in the same dir would be counted twice.
    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
    }

    func append(_ row: CampaignResult) {
        handle.write(Data((row.jsonLine() + "\n").utf8))
        try? handle.synchronize()
    }

    deinit { try? handle.close() }
}
