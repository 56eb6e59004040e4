#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LocalCluster

/// The disk faults of a run. Errors (EIO, ENOSPC): every node runs under the seccomp launcher
/// `dqlite-disk-faults`, switched through one control file per node. Full disk: every data dir is a small
/// tmpfs, which a balloon file fills.
struct DiskFaults: Sendable {
    /// The seccomp launcher (next to dqlite-chaos), when the scenario has `disk` faults. It wraps any target:
    /// it finds the data dir in the program's `--dir` argument.
    let launcher: String?
    /// The directory of the launchers' control files.
    let controlDirectory: String
    /// The size of each node's tmpfs, when the scenario has `full` faults.
    let tmpfsBytes: Int?

    static let balloonName = "zz-full-disk-balloon"

    /// Nil when the scenario has neither kind of disk fault.
    static func make(for s: Scenario, plan: [PlannedFault], toolsDirectory: String, outputDirectory: String) throws -> DiskFaults? {
        let types = Set(plan.map(\.type))
        guard types.contains(.disk) || types.contains(.full) else { return nil }
        var launcher: String?
        if types.contains(.disk) {
            let path = toolsDirectory + "/dqlite-disk-faults"
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw ChaosError.harness("disk faults need the seccomp launcher \(path) (swift build --product dqlite-disk-faults)")
            }
            launcher = path
        }
        if types.contains(.full), geteuid() != 0 {
            throw ChaosError.harness("full-disk faults need root (each data dir is a small tmpfs)")
        }
        let controls = outputDirectory + "/disk-control"
        try FileManager.default.createDirectory(atPath: controls, withIntermediateDirectories: true)
        return DiskFaults(launcher: launcher, controlDirectory: controls,
                          tmpfsBytes: types.contains(.full) ? s.cluster.tmpfsMiB << 20 : nil)
    }

    func control(_ node: Int) -> String { "\(controlDirectory)/node\(node + 1)" }

    /// `placement` with each node started under the launcher and its data dir on a tmpfs, as needed.
    func wrap(_ placement: ProcessCluster.Placement) -> ProcessCluster.Placement {
        var p = placement
        if let launcher {
            let base = placement.launcher
            p.launcher = { i in base(i) + [launcher, "--control", control(i), "--scope", "{dir}", "--"] }
        }
        if let bytes = tmpfsBytes {
            let base = placement.prepare
            p.prepare = { i, dir in
                try base(i, dir)
                try Mounts.mountTmpfs(on: dir, bytes: bytes)
            }
        }
        return p
    }

    /// Switches node `node`'s disk errors on (`error`) or off (nil).
    func set(_ node: Int, _ error: DiskErrno?) throws {
        try ((error?.rawValue ?? "off") + "\n").write(toFile: control(node), atomically: true, encoding: .utf8)
    }

    /// How many calls the launcher of node `node` has failed so far.
    func injected(_ node: Int) -> Int {
        Int(((try? String(contentsOfFile: control(node) + ".injected", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Fills `dir`'s filesystem with a balloon file until it is full (the balloon grows; called again, it
    /// takes up what the node freed meanwhile, e.g. by truncating a segment); the bytes written.
    func fill(_ dir: String) -> Int {
        let path = dir + "/" + Self.balloonName
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            total += n
        }
        // The last partial pages: a byte at a time would be slow; small writes until nothing fits.
        var small = [UInt8](repeating: 0, count: 4096)
        while small.withUnsafeMutableBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 { total += 4096 }
        return total
    }

    /// Removes the balloon from `dir`.
    func drain(_ dir: String) {
        unlink(dir + "/" + Self.balloonName)
    }
}
