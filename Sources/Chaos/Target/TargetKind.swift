import Foundation
import LocalCluster

/// The program a run tests (`cluster.target`, `--target`).
public enum TargetKind: String, Codable, Sendable, CaseIterable {
    /// Our node, `dqlite-node` (the default).
    case dqliteNode = "dqlite-node"
    /// Debian's C dqlite 1.11 through go-dqlite's `dqlite-demo` (one process per node, as `LocalCluster` runs it).
    case realDqlite = "real-dqlite"
    /// A user's own program that serves dqlite's wire protocol, started from `cluster.command`.
    case command
}

/// What the bed knows of a target: how to start its nodes and what it can take. Faults, workloads and checks
/// never ask which program runs; they ask this.
public struct ChaosTarget: Sendable {
    public let kind: TargetKind
    /// How `ProcessCluster` starts a node.
    public let processKind: ProcessCluster.Kind
    /// The program (for run.json's digest and error messages).
    public let program: String
    /// Whether DUMP gives each node's own copy (durability and convergence need it).
    public let canDump: Bool
    /// Log text that means the node crashed (empty: unknown; only exits the nemesis did not cause count).
    public let crashMarkers: [String]
    /// Log text with which the node says it stopped on a failed disk write (our fail-stop); nil: any exit
    /// while or after its disk was faulted counts as such a stop.
    public let failStopMarker: String?
    /// Log text with which the node refuses to start on damaged files; nil: any exit of a damaged node.
    public let refusalMarker: String?
    /// The node recovers damaged data from its peers (dqlite-node): a damaged node that refuses to start,
    /// or stays down, fails the run instead of being let off as a clear refusal.
    public let recoversFromDamage: Bool

    /// C, Go and Swift crash lines: assertions, panics, fatal errors, traps.
    static let commonCrashMarkers = ["Fatal error", "Assertion", "precondition", "panic:", "fatal error:", "SIGSEGV"]

    public static func make(_ c: ClusterSpec, nodeExecutable: String) throws -> ChaosTarget {
        switch c.target {
        case .dqliteNode:
            var extra = ["--election-timeout", String(c.electionTimeoutMs), "--heartbeat-timeout", String(c.heartbeatTimeoutMs),
                         "--snapshot-threshold", String(c.snapshotThreshold), "--snapshot-trailing", String(c.snapshotTrailing)]
            if c.staleReads { extra.append("--stale-reads") }
            extra += c.nodeArgs
            return ChaosTarget(kind: .dqliteNode, processKind: .swiftNode(executable: nodeExecutable, arguments: extra), program: nodeExecutable,
                               canDump: true, crashMarkers: commonCrashMarkers, failStopMarker: "disk failure:", refusalMarker: "cannot start node",
                               recoversFromDamage: true)
        case .realDqlite:
            let demo = realDqliteProgram
            return ChaosTarget(kind: .realDqlite, processKind: .realDqlite, program: demo, canDump: true,
                               crashMarkers: commonCrashMarkers, failStopMarker: nil, refusalMarker: nil, recoversFromDamage: false)
        case .command:
            guard let text = c.command else { throw ChaosError.harness("target: command needs cluster.command (a template)") }
            let template: CommandTemplate
            do { template = try CommandTemplate(text) } catch { throw ChaosError.harness("cluster.command: \(error)") }
            return ChaosTarget(kind: .command, processKind: .command(template), program: template.program, canDump: c.dump,
                               crashMarkers: c.crashMarkers, failStopMarker: nil, refusalMarker: nil, recoversFromDamage: false)
        }
    }

    /// Debian's dqlite-demo (`DQLITE_DEMO` overrides the path, as in `ProcessCluster`).
    static var realDqliteProgram: String {
        ProcessInfo.processInfo.environment["DQLITE_DEMO"] ?? "/usr/bin/dqlite-demo"
    }

    var template: CommandTemplate? { if case .command(let t) = processKind { t } else { nil } }

    /// Why this target cannot take a fault of `type` (nil: it can). Asked for every fault of the plan before
    /// anything starts, so a fault is refused with its reason, never skipped in silence.
    public func refusal(of type: FaultType) -> String? {
        guard let template else { return nil }
        switch type {
        case .disk, .full, .corrupt, .powerLoss:
            return template.uses("dir") ? nil : "\(type.rawValue) faults act on the node's data dir: the command template must place {dir}"
        case .member:
            if !template.uses("dir") { return "member faults wipe the node's data dir: the command template must place {dir}" }
            return template.uses("join") ? nil : "member faults restart a wiped node that must join again: the command template must place {join}"
        case .kill, .stop, .pause, .partition, .delay, .loss, .transfer, .clock, .hold:
            return nil
        }
    }

    /// Scenario settings that only our node understands, refused for other targets rather than ignored.
    public static func settingRefusal(_ c: ClusterSpec) -> String? {
        guard c.target != .dqliteNode else {
            return c.command == nil ? nil : "cluster.command is only for target: command"
        }
        if !c.nodeArgs.isEmpty { return "cluster.node_args are dqlite-node flags; target \(c.target.rawValue) cannot take them (use target: command with your own flags)" }
        if c.staleReads { return "cluster.stale_reads is a dqlite-node option; \(c.target.rawValue) decides its reads itself" }
        if c.tls { return "cluster.tls needs dqlite-node's TLS flags; \(c.target.rawValue) takes none (Debian's dqlite-demo has no --cert)" }
        if c.target == .realDqlite, c.command != nil { return "cluster.command is only for target: command" }
        return nil
    }

    /// Checks the settings and every fault of `plan`; the first reason to refuse the run.
    public func refusal(plan: [PlannedFault], cluster c: ClusterSpec) -> String? {
        if let why = Self.settingRefusal(c) { return why }
        for type in Set(plan.map(\.type)).sorted(by: { $0.rawValue < $1.rawValue }) {
            if let why = refusal(of: type) { return "target \(kind.rawValue) cannot take \(type.rawValue) faults: \(why)" }
        }
        return nil
    }

    /// What the report says about checks this target cannot feed.
    var limits: [String] {
        var out: [String] = []
        if !canDump { out.append("durability and convergence not checked: the target does not answer DUMP") }
        if crashMarkers.isEmpty { out.append("no crash log lines known for this target: only exits the nemesis did not cause count as crashes") }
        return out
    }
}
