import Foundation

/// `campaign merge DIRS... --out DIR`: joins the results of shards (or of any campaigns) into one summary.
/// The summary comes from the rows alone, so it is the one the unsharded campaign would have printed; the
/// shards' campaign.json tell which runs of the whole are still missing (a shard that failed to upload).
public enum CampaignMerge {
    public static func merge(dirs: [String], out: String, say: @Sendable (String) -> Void) throws -> CampaignSummary {
        guard !dirs.isEmpty else { throw CampaignUsageError("merge needs the out dirs of one or more campaigns") }
        var rows: [CampaignResult] = []
        var links: [CampaignRunID: String] = [:]
        var plans: [CampaignPlan] = []
        var sources: [String] = []
        var withoutPlan: [String] = []
        var duplicates = 0
        var seen = Set<CampaignRunID>()
        for dir in dirs {
            let path = CampaignFiles.resultsPath(dir)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CampaignUsageError("\(dir) has no results.jsonl (is it the --out of a campaign?)")
            }
            let (found, skipped) = try CampaignResult.read(jsonl: path)
            if skipped > 0 { say("\(dir): skipped \(skipped) unreadable lines of results.jsonl (a campaign that died while writing?)") }
            let plan = CampaignFiles.readPlan(dir)
            if let plan { plans.append(plan) } else { withoutPlan.append(dir) }
            sources.append(dir + (plan.map { $0.shard == .whole ? "" : " (shard \($0.shard))" } ?? ""))
            for r in found {
                let id = r.id
                // The first dir given wins; later copies of a run are counted and dropped.
                guard seen.insert(id).inserted else {
                    duplicates += 1
                    continue
                }
                rows.append(r)
                links[id] = CampaignFiles.link(from: out, runsIn: dir, key: r.key)
            }
        }
        if duplicates > 0 { say("\(duplicates) runs appear in more than one dir; the first dir given was kept for each") }
        if !withoutPlan.isEmpty { say("no campaign.json in \(withoutPlan.joined(separator: ", ")): missing runs of those are not detected") }

        // What the whole should hold: every run of each campaign the shards came from, not just theirs.
        var expected = Set<CampaignRunID>()
        for p in plans { for r in p.allRuns { expected.insert(r.id) } }

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let summary = CampaignSummary.make(results: rows, expected: plans.isEmpty ? nil : Array(expected), sources: sources)
        // The merged dir is a campaign dir too (results.jsonl, campaign.json), so merges can be merged again.
        let merged = CampaignSummary.unique(rows)
        try Data(merged.map { $0.jsonLine() + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: CampaignFiles.resultsPath(out)))
        if let first = plans.first, withoutPlan.isEmpty, plans.allSatisfy({ $0.scenarios == first.scenarios && $0.seeds == first.seeds }) {
            var whole = first
            whole.shard = .whole
            try CampaignFiles.writePlan(whole, to: out)
        } else {
            try? FileManager.default.removeItem(atPath: CampaignFiles.planPath(out))
        }
        try CampaignFiles.writeSummary(summary, results: merged, links: links, to: out)
        return summary
    }
}
