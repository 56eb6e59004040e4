/// The line printed after each run: `[12/40] failures 3, elapsed 1m20s, about 3m left`. The estimate is the
/// mean run time so far × runs left / jobs: crude, but runs of one campaign are alike in length.
struct CampaignProgress {
    let total: Int
    let jobs: Int
    private(set) var done = 0
    private(set) var failures = 0
    private var runSeconds = 0.0

    init(total: Int, jobs: Int) {
        self.total = total
        self.jobs = max(1, jobs)
    }

    mutating func record(_ row: CampaignResult) {
        done += 1
        if !row.met { failures += 1 }
        runSeconds += row.wallSeconds
    }

    func line(elapsedS: Double) -> String {
        var s = "[\(done)/\(total)] failures \(failures), elapsed \(Self.duration(elapsedS))"
        if done < total && done > 0 {
            let left = runSeconds / Double(done) * Double(total - done) / Double(min(jobs, total - done))
            s += ", about \(Self.estimate(left)) left"
        }
        return s
    }

    /// `45s`, `1m20s`, `2h05m`.
    static func duration(_ seconds: Double) -> String {
        let t = Int(seconds.rounded())
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m\(pad(t % 60))s" }
        return "\(t / 3600)h\(pad(t / 60 % 60))m"
    }

    /// Coarser than `duration`: an estimate's seconds are noise once it is minutes away.
    static func estimate(_ seconds: Double) -> String {
        let t = Int(seconds.rounded())
        if t < 90 { return "\(t)s" }
        if t < 3600 { return "\((t + 30) / 60)m" }
        return "\(t / 3600)h\(pad(t / 60 % 60))m"
    }

    private static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
