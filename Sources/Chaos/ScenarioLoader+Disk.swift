import Yams

/// The scenario fields of disk faults: `errors` (kinds) and `error` (timeline), eio or enospc, only for
/// type disk; read with the same line-and-field errors as the rest of the schema.
extension Reader {
    func diskKind(_ kind: inout FaultKind, _ k: [String: Node]) throws(ScenarioError) {
        guard let v = k["errors"] else {
            if kind.type == .disk { kind.errors = DiskErrno.allCases }
            return
        }
        guard kind.type == .disk else { throw fail(v, "faults.kinds.errors", "only for type disk, not \(kind.type.rawValue)") }
        var errors: [DiskErrno] = []
        for x in try list(v, "faults.kinds.errors") { errors.append(try choice(x, "faults.kinds.errors", DiskErrno.self)) }
        guard !errors.isEmpty else { throw fail(v, "faults.kinds.errors", "at least one error") }
        kind.errors = errors
    }

    func diskTimeline(_ fault: inout PlannedFault, _ e: [String: Node]) throws(ScenarioError) {
        guard let v = e["error"] else {
            if fault.type == .disk { fault.error = .eio }
            return
        }
        guard fault.type == .disk else { throw fail(v, "faults.timeline.error", "only for type disk, not \(fault.type.rawValue)") }
        fault.error = try choice(v, "faults.timeline.error", DiskErrno.self)
    }
}
