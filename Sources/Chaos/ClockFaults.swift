import Foundation
import LocalCluster

/// The clock faults of a run: every node runs with the LD_PRELOAD library `libdqlite-clock-faults.so` (next
/// to dqlite-chaos), reading its own control file, which stays neutral until a fault bends that node's clocks.
/// Works for any target whose clocks go through libc (our node; real dqlite's C-Raft and libuv, not Go's
/// runtime; a user's program).
struct ClockFaults: Sendable {
    let library: String
    let controls: [ClockControl]

    /// Nil when the plan has no clock fault.
    static func make(for s: Scenario, plan: [PlannedFault], toolsDirectory: String, outputDirectory: String) throws -> ClockFaults? {
        guard plan.contains(where: { $0.type == .clock }) else { return nil }
        let library = toolsDirectory + "/libdqlite-clock-faults.so"
        guard FileManager.default.fileExists(atPath: library) else {
            throw ChaosError.harness("clock faults need \(library) (swift build --product dqlite-clock-faults)")
        }
        let directory = outputDirectory + "/clock-control"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let controls = try (0..<s.cluster.nodes).map { try ClockControl(path: "\(directory)/node\($0 + 1)") }
        return ClockFaults(library: library, controls: controls)
    }

    /// What node `i` runs with.
    func environment(_ i: Int) -> [String: String] {
        guard i < controls.count else { return [:] }
        return ["LD_PRELOAD": library, "DQLITE_CLOCK_FAULTS": controls[i].path]
    }

    func apply(_ change: ClockChange, to node: Int) throws {
        guard node < controls.count else { throw ChaosError.harness("node \(node + 1) has no clock control") }
        controls[node].set(Self.fault(change))
    }

    /// Ends the fault: the wall clock reads real time again (monotonic clocks keep their lead, running at
    /// the real rate). Returns how far the node's monotonic clocks had got ahead (ms).
    func heal(_ node: Int) -> Int64 {
        guard node < controls.count else { return 0 }
        controls[node].set(.none)
        return controls[node].shiftNs.monotonic / 1_000_000
    }

    static func fault(_ c: ClockChange) -> ClockFault {
        switch c.mode {
        case .rate: .rate(c.rate ?? 1)
        case .jump: .jump(nanoseconds: Int64((c.jumpS ?? 0) * 1e9))
        case .strobe: .strobe(periodNs: Int64((c.strobeMs ?? 200) * 1e6), amplitudeNs: Int64((c.strobeS ?? 10) * 1e9))
        }
    }
}
