import Foundation
import LocalCluster
import Yams

/// A scenario file that cannot be used: which file, line and field, and why. Nothing is guessed: unknown
/// fields, wrong types and out-of-range values are all refused before anything starts.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let field: String
    public let problem: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(field.isEmpty ? "" : "\(field): ")\(problem)"
    }
}

/// Reads scenario YAML into a `Scenario`, field by field, so every error can name its line.
public enum ScenarioLoader {
    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ScenarioError(file: path, line: nil, field: "", problem: "cannot read the file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "<scenario>") throws(ScenarioError) -> Scenario {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ScenarioError(file: file, line: line(of: error), field: "", problem: "not valid YAML: \(problem(of: error))")
        } catch {
            throw ScenarioError(file: file, line: nil, field: "", problem: "not valid YAML: \(error)")
        }
        guard let root else { throw ScenarioError(file: file, line: 1, field: "", problem: "the file is empty") }
        let r = Reader(file: file)
        return try r.scenario(root)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _): problem
        default: "\(error)"
        }
    }
}

/// Typed access to YAML nodes with errors that carry the node's line and the field's path. (Internal, not
/// private: the network fields are read in ScenarioLoader+Network.swift.)
struct Reader {
    let file: String

    func fail(_ node: Node?, _ field: String, _ problem: String) -> ScenarioError {
        ScenarioError(file: file, line: node?.mark?.line, field: field, problem: problem)
    }

    /// The mapping's entries, refusing keys outside `allowed`.
    func mapping(_ node: Node, _ field: String, allowed: [String]) throws(ScenarioError) -> [String: Node] {
        guard let m = node.mapping else { throw fail(node, field, "expected a mapping of fields") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else { throw fail(k, field, "field names must be text") }
            let path = field.isEmpty ? key : "\(field).\(key)"
            guard allowed.contains(key) else {
                throw fail(k, path, "unknown field (known: \(allowed.joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw fail(k, path, "given twice") }
            out[key] = v
        }
        return out
    }

    func int(_ node: Node, _ field: String, in range: ClosedRange<Int>) throws(ScenarioError) -> Int {
        guard let s = node.scalar, let v = Int(s.string) else { throw fail(node, field, "expected an integer, got \(describe(node))") }
        guard range.contains(v) else { throw fail(node, field, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func double(_ node: Node, _ field: String, in range: ClosedRange<Double>) throws(ScenarioError) -> Double {
        guard let s = node.scalar, let v = Double(s.string), v.isFinite else {
            throw fail(node, field, "expected a number, got \(describe(node))")
        }
        guard range.contains(v) else { throw fail(node, field, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func bool(_ node: Node, _ field: String) throws(ScenarioError) -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, field, "expected true or false, got \(describe(node))")
        }
    }

    func string(_ node: Node, _ field: String) throws(ScenarioError) -> String {
        guard let s = node.scalar else { throw fail(node, field, "expected text, got \(describe(node))") }
        return s.string
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ field: String, _: E.Type) throws(ScenarioError) -> E where E.RawValue == String {
        let s = try string(node, field)
        guard let v = E(rawValue: s) else {
            throw fail(node, field, "'\(s)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    func list(_ node: Node, _ field: String) throws(ScenarioError) -> [Node] {
        guard let s = node.sequence else { throw fail(node, field, "expected a list, got \(describe(node))") }
        return Array(s)
    }

    /// A `[low, high]` range (or one number for both ends).
    func range(_ node: Node, _ field: String, in bounds: ClosedRange<Double>) throws(ScenarioError) -> [Double] {
        if node.scalar != nil {
            let v = try double(node, field, in: bounds)
            return [v, v]
        }
        let items = try list(node, field)
        guard items.count == 2 else { throw fail(node, field, "expected [low, high]") }
        let lo = try double(items[0], field, in: bounds), hi = try double(items[1], field, in: bounds)
        guard lo <= hi else { throw fail(node, field, "low \(lo) is above high \(hi)") }
        return [lo, hi]
    }

    func describe(_ node: Node) -> String {
        if let s = node.scalar { return "'\(s.string)'" }
        return node.mapping != nil ? "a mapping" : "a list"
    }

    // MARK: The schema

    func scenario(_ node: Node) throws(ScenarioError) -> Scenario {
        var s = Scenario()
        let m = try mapping(node, "", allowed: ["name", "tier", "expect", "expect_anomalies", "cluster", "workload", "duration_s", "faults", "final", "checks"])
        if let v = m["name"] { s.name = try string(v, "name") }
        if let v = m["tier"] { s.tier = try choice(v, "tier", TierChoice.self).value }
        if let v = m["expect"] { s.expect = try choice(v, "expect", ExpectChoice.self).value }
        if let v = m["expect_anomalies"] {
            var names: [String] = []
            for item in try list(v, "expect_anomalies") { names.append(try string(item, "expect_anomalies")) }
            s.expectAnomalies = names
        }
        if let v = m["cluster"] { s.cluster = try cluster(v) }
        if let v = m["workload"] { s.workload = try workload(v) }
        if let v = m["duration_s"] { s.durationS = try double(v, "duration_s", in: 1...86_400) }
        if let v = m["faults"] { s.faults = try faults(v) }
        if let v = m["final"] { s.final = try final(v) }
        if let v = m["checks"] {
            var checks: [Scenario.Check] = []
            for item in try list(v, "checks") { checks.append(try choice(item, "checks", Scenario.Check.self)) }
            s.checks = checks
        }
        if !s.expectAnomalies.isEmpty && s.expect != .fail {
            throw fail(m["expect_anomalies"], "expect_anomalies", "only meaningful with expect: fail")
        }
        for f in s.faults.timeline where f.atS >= s.durationS {
            throw fail(m["faults"], "faults.timeline", "a fault at \(f.atS) s starts after the workload ends (duration_s \(s.durationS))")
        }
        try checkNetwork(s, faultsNode: m["faults"], clusterNode: m["cluster"])
        for f in s.faults.timeline {
            if let n = f.node, n > s.cluster.nodes { throw fail(m["faults"], "faults.timeline.node", "node \(n) but the cluster has \(s.cluster.nodes)") }
            if let n = f.to, n > s.cluster.nodes { throw fail(m["faults"], "faults.timeline.to", "node \(n) but the cluster has \(s.cluster.nodes)") }
        }
        if s.cluster.target == .command, let t = s.cluster.command.flatMap({ try? CommandTemplate($0) }) {
            let target = ChaosTarget(kind: .command, processKind: .command(t), program: t.program, canDump: true, crashMarkers: [], failStopMarker: nil, refusalMarker: nil, recoversFromDamage: false)
            let used: [FaultType] = s.faults.mode == .none ? [] : s.faults.mode == .explicit ? s.faults.timeline.map(\.type) : s.faults.kinds.filter { $0.weight > 0 }.map(\.type)
            for type in used { if let why = target.refusal(of: type) { throw fail(m["faults"], "faults", "target command cannot take \(type.rawValue) faults: \(why)") } }
        }
        return s
    }

    func cluster(_ node: Node) throws(ScenarioError) -> ClusterSpec {
        var c = ClusterSpec()
        let m = try mapping(node, "cluster", allowed: ["target", "command", "dump", "crash_markers", "nodes", "election_timeout_ms", "heartbeat_timeout_ms",
                                                        "snapshot_threshold", "snapshot_trailing", "stale_reads", "node_args", "isolation", "tmpfs_mib", "tls"])
        if let v = m["target"] { c.target = try choice(v, "cluster.target", TargetKind.self) }
        if let v = m["command"] {
            let text = try string(v, "cluster.command")
            do { _ = try CommandTemplate(text) } catch { throw fail(v, "cluster.command", "\(error)") }
            c.command = text
        }
        if let v = m["dump"] { c.dump = try bool(v, "cluster.dump") }
        if let v = m["crash_markers"] {
            var markers: [String] = []
            for item in try list(v, "cluster.crash_markers") { markers.append(try string(item, "cluster.crash_markers")) }
            c.crashMarkers = markers
        }
        if c.target == .command && c.command == nil { throw fail(m["target"], "cluster.command", "target: command needs a command template") }
        if c.target != .command, let v = m["dump"] ?? m["crash_markers"] {
            throw fail(v, "cluster", "dump and crash_markers describe a target: command program")
        }
        if let v = m["nodes"] { c.nodes = try int(v, "cluster.nodes", in: 1...9) }
        if let v = m["election_timeout_ms"] { c.electionTimeoutMs = try int(v, "cluster.election_timeout_ms", in: 50...60_000) }
        if let v = m["heartbeat_timeout_ms"] { c.heartbeatTimeoutMs = try int(v, "cluster.heartbeat_timeout_ms", in: 10...60_000) }
        if let v = m["snapshot_threshold"] { c.snapshotThreshold = try int(v, "cluster.snapshot_threshold", in: 4...1_000_000) }
        if let v = m["snapshot_trailing"] { c.snapshotTrailing = try int(v, "cluster.snapshot_trailing", in: 4...1_000_000) }
        if let v = m["stale_reads"] { c.staleReads = try bool(v, "cluster.stale_reads") }
        if let v = m["node_args"] {
            var args: [String] = []
            for item in try list(v, "cluster.node_args") { args.append(try string(item, "cluster.node_args")) }
            c.nodeArgs = args
        }
        if let v = m["tmpfs_mib"] { c.tmpfsMiB = try int(v, "cluster.tmpfs_mib", in: 16...4096) }
        if let v = m["isolation"] { c.isolation = try choice(v, "cluster.isolation", ClusterSpec.Isolation.self) }
        if let v = m["tls"] { c.tls = try bool(v, "cluster.tls") }
        if let why = ChaosTarget.settingRefusal(c) { throw fail(m["node_args"] ?? m["stale_reads"] ?? m["tls"] ?? m["command"] ?? node, "cluster.target", why) }
        if c.heartbeatTimeoutMs >= c.electionTimeoutMs {
            throw fail(m["heartbeat_timeout_ms"] ?? node, "cluster.heartbeat_timeout_ms", "must be below the election timeout")
        }
        if c.snapshotTrailing < c.snapshotThreshold {
            throw fail(m["snapshot_trailing"] ?? node, "cluster.snapshot_trailing", "must be at least snapshot_threshold")
        }
        return c
    }

    func workload(_ node: Node) throws(ScenarioError) -> WorkloadSpec {
        var w = WorkloadSpec()
        let m = try mapping(node, "workload", allowed: ["model", "keys", "txn_length", "max_writes_per_key", "concurrency",
                                                         "rate_hz", "client_timeout_ms", "binding", "read_only", "write_only", "begin"])
        if let v = m["model"] {
            w.model = try choice(v, "workload.model", WorkloadSpec.Model.self).rawValue
        }
        if let v = m["keys"] { w.keys = try int(v, "workload.keys", in: 1...10_000) }
        if let v = m["txn_length"] {
            let r = try range(v, "workload.txn_length", in: 1...64)
            guard r[0] == r[0].rounded(), r[1] == r[1].rounded() else { throw fail(v, "workload.txn_length", "expected whole numbers") }
            w.txnLength = [Int(r[0]), Int(r[1])]
        }
        if let v = m["max_writes_per_key"] { w.maxWritesPerKey = try int(v, "workload.max_writes_per_key", in: 1...1_000_000) }
        if let v = m["concurrency"] { w.concurrency = try int(v, "workload.concurrency", in: 1...256) }
        if let v = m["rate_hz"] { w.rateHz = try double(v, "workload.rate_hz", in: 0...100_000) }
        if let v = m["client_timeout_ms"] {
            let r = try range(v, "workload.client_timeout_ms", in: 10...600_000)
            w.clientTimeoutMs = Int(r[0])
            w.clientTimeoutMaxMs = r[1] > r[0] ? Int(r[1]) : nil
        }
        if let v = m["binding"] { w.binding = try choice(v, "workload.binding", WorkloadSpec.Binding.self) }
        if let v = m["begin"] { w.begin = try choice(v, "workload.begin", WorkloadSpec.BeginMode.self) }
        if let v = m["read_only"] { w.readOnly = try int(v, "workload.read_only", in: 0...256) }
        if let v = m["write_only"] { w.writeOnly = try int(v, "workload.write_only", in: 0...256) }
        if w.readOnly + w.writeOnly > w.concurrency {
            throw fail(m["read_only"] ?? m["write_only"], "workload", "read_only + write_only (\(w.readOnly + w.writeOnly)) is more than concurrency (\(w.concurrency))")
        }
        return w
    }

    func faults(_ node: Node) throws(ScenarioError) -> FaultSpec {
        var f = FaultSpec()
        let m = try mapping(node, "faults", allowed: ["mode", "interval_s", "kinds", "timeline", "max_concurrent"])
        if let v = m["max_concurrent"] { f.maxConcurrent = try int(v, "faults.max_concurrent", in: 1...16) }
        if let v = m["mode"] { f.mode = try choice(v, "faults.mode", ModeChoice.self).value }
        if let v = m["interval_s"] { f.intervalS = try range(v, "faults.interval_s", in: 0...3600) }
        if let v = m["kinds"] {
            var kinds: [FaultKind] = []
            for item in try list(v, "faults.kinds") {
                let k = try mapping(item, "faults.kinds", allowed: ["type", "targets", "for_s", "weight", "errors", "clock", "torn", "writeback_s"] + Self.networkFields(plural: true))
                guard let t = k["type"] else { throw fail(item, "faults.kinds.type", "missing") }
                var kind = FaultKind(type: try choice(t, "faults.kinds.type", FaultType.self))
                if kind.type == .hold { throw fail(t, "faults.kinds.type", "hold is a phase of an explicit timeline, not drawn from the seed") }
                if let v = k["targets"] {
                    var targets: [Target] = []
                    for x in try list(v, "faults.kinds.targets") { targets.append(try choice(x, "faults.kinds.targets", Target.self)) }
                    guard !targets.isEmpty else { throw fail(v, "faults.kinds.targets", "at least one target") }
                    kind.targets = targets
                }
                if let v = k["for_s"] { kind.forS = try range(v, "faults.kinds.for_s", in: 0...3600) }
                if let v = k["weight"] { kind.weight = try int(v, "faults.kinds.weight", in: 0...1000) }
                try networkKind(&kind, k, item)
                try diskKind(&kind, k)
                try clockKind(&kind, k)
                try powerLossKind(&kind, k)
                kinds.append(kind)
            }
            f.kinds = kinds
        }
        if let v = m["timeline"] {
            var timeline: [PlannedFault] = []
            for item in try list(v, "faults.timeline") {
                let e = try mapping(item, "faults.timeline", allowed: ["at_s", "type", "target", "pick", "for_s", "error", "node", "to", "clock", "groups", "hold", "torn", "writeback_s"] + Self.networkFields(plural: false))
                guard let at = e["at_s"], let t = e["type"] else { throw fail(item, "faults.timeline", "each fault needs at_s and type") }
                timeline.append(PlannedFault(
                    atS: try double(at, "faults.timeline.at_s", in: 0...86_400),
                    type: try choice(t, "faults.timeline.type", FaultType.self),
                    target: try e["target"].map { n throws(ScenarioError) in try choice(n, "faults.timeline.target", Target.self) } ?? .one,
                    pick: try e["pick"].map { n throws(ScenarioError) in try int(n, "faults.timeline.pick", in: 0...1000) } ?? 0,
                    forS: try e["for_s"].map { n throws(ScenarioError) in try double(n, "faults.timeline.for_s", in: 0...3600) } ?? 2))
                if let v = e["node"] { timeline[timeline.count - 1].node = try int(v, "faults.timeline.node", in: 1...9) }
                if let v = e["to"] {
                    guard timeline[timeline.count - 1].type == .transfer else { throw fail(v, "faults.timeline.to", "only for type transfer") }
                    timeline[timeline.count - 1].to = try int(v, "faults.timeline.to", in: 1...9)
                }
                if let v = e["hold"] {
                    guard timeline[timeline.count - 1].type == .hold else { throw fail(v, "faults.timeline.hold", "only for type hold") }
                    timeline[timeline.count - 1].hold = try choice(v, "faults.timeline.hold", HoldKind.self)
                } else if timeline[timeline.count - 1].type == .hold {
                    timeline[timeline.count - 1].hold = .writes
                }
                try networkTimeline(&timeline[timeline.count - 1], e, item)
                try diskTimeline(&timeline[timeline.count - 1], e)
                try clockTimeline(&timeline[timeline.count - 1], e, item)
                try powerLossTimeline(&timeline[timeline.count - 1], e)
            }
            f.timeline = timeline.sorted { $0.atS < $1.atS }
        }
        if f.mode == .random && f.kinds.allSatisfy({ $0.weight == 0 }) {
            throw fail(m["kinds"] ?? node, "faults.kinds", "random mode needs at least one kind with a weight above 0")
        }
        return f
    }

    func final(_ node: Node) throws(ScenarioError) -> FinalSpec {
        var f = FinalSpec()
        let m = try mapping(node, "final", allowed: ["settle_s", "recover_within_s"])
        if let v = m["settle_s"] { f.settleS = try double(v, "final.settle_s", in: 0...3600) }
        if let v = m["recover_within_s"] { f.recoverWithinS = try double(v, "final.recover_within_s", in: 1...3600) }
        return f
    }
}

// CaseIterable wrappers for the scenario's nested enums (their raw values are the YAML spellings).
private struct TierChoice: RawRepresentable, CaseIterable {
    let value: Scenario.Tier
    init?(rawValue: String) { guard let v = Scenario.Tier(rawValue: rawValue) else { return nil }; value = v }
    var rawValue: String { value.rawValue }
    static let allCases = [Scenario.Tier.smoke, .nightly, .soak].map { TierChoice(rawValue: $0.rawValue)! }
}

private struct ExpectChoice: RawRepresentable, CaseIterable {
    let value: Scenario.Expectation
    init?(rawValue: String) { guard let v = Scenario.Expectation(rawValue: rawValue) else { return nil }; value = v }
    var rawValue: String { value.rawValue }
    static let allCases = [Scenario.Expectation.pass, .fail].map { ExpectChoice(rawValue: $0.rawValue)! }
}

private struct ModeChoice: RawRepresentable, CaseIterable {
    let value: FaultSpec.Mode
    init?(rawValue: String) { guard let v = FaultSpec.Mode(rawValue: rawValue) else { return nil }; value = v }
    var rawValue: String { value.rawValue }
    static let allCases = [FaultSpec.Mode.random, .explicit, .none].map { ModeChoice(rawValue: $0.rawValue)! }
}
