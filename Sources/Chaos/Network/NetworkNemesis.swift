/// Applies and heals the network faults of a netns-mode run: partitions as iptables DROP rules inside the
/// receiving nodes' namespaces, delay and loss through the link proxies. It remembers exactly what each fault
/// added, so healing one removes its rules and nothing else (partitions may overlap: their cuts add up, and
/// identical rules of two faults are two rules).
actor NetworkNemesis {
    let network: NetnsNetwork
    let proxies: LinkProxies?
    /// Fault id → node index (0-based) → the rules (iptables specs without the -A/-D) it put in that namespace.
    private var rules: [Int: [Int: [String]]] = [:]
    /// Fault id → its history detail (the stop line repeats it).
    private var active: [Int: (fault: String, detail: String)] = [:]

    init(network: NetnsNetwork, proxies: LinkProxies?) {
        self.network = network
        self.proxies = proxies
    }

    /// A network fault as applied: the history's detail JSON and what run.json records.
    struct Applied: Sendable {
        var detail: String
        var shape: PartitionShape?
        var groups: [[Int]]?
        var link: LinkFault?
        var status: String
    }

    /// `center` is the 0-based node the target selected; `id` names the fault until it heals.
    func apply(_ fault: PlannedFault, id: Int, center: Int, leader: Int?) async throws -> Applied {
        let ids = Array(1...network.nodeCount)
        let common = #""node":\#(center + 1),"leader":\#(center == leader),"for_s":\#(fault.forS)"#
        switch fault.type {
        case .partition:
            let shape = fault.groups == nil ? fault.shape ?? .isolate : nil
            let layout = shape.map { PartitionLayout.make($0, nodes: ids, center: center + 1, pick: fault.pick) }
                ?? PartitionLayout.make(groups: fault.groups ?? [], nodes: ids)
            var add: [Int: [String]] = [:]
            for d in layout.drops { add[d.receiver - 1, default: []].append("INPUT -s \(network.ip(d.sender - 1))/32 -j DROP") }
            let groups = "[" + layout.groups.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
            let detail = #"{"shape":"\#(shape?.rawValue ?? "groups")","groups":\#(groups),\#(common)}"#
            active[id] = ("partition", detail)
            for (node, specs) in add.sorted(by: { $0.key < $1.key }) {
                // Recorded before the change, so a failure half-way still heals what got in.
                rules[id, default: [:]][node, default: []] += specs
                try await iptables(node, specs.map { "-A " + $0 })
            }
            return Applied(detail: detail, shape: shape, groups: layout.groups, link: nil,
                           status: "partition \(shape?.rawValue ?? "groups") \(layout.groups)")
        case .delay, .loss:
            guard let proxies else { throw ChaosError.harness("\(fault.type.rawValue) needs the link proxies (netns isolation)") }
            let link = fault.link ?? LinkFault()
            let links = ids.flatMap { a in ids.filter { $0 != a }.map { (a - 1, $0 - 1) } }.filter { $0.0 == center || $0.1 == center }
            proxies.set(link, on: links.map { LinkProxies.Link(from: $0.0, to: $0.1) })
            let detail = #"{"delay_ms":\#(link.delayMs),"jitter_ms":\#(link.jitterMs),"loss_pct":\#(link.lossPct),\#(common)}"#
            active[id] = (fault.type.rawValue, detail)
            return Applied(detail: detail, shape: nil, groups: nil, link: link,
                           status: "\(fault.type.rawValue) n\(center + 1)'s links \(Int(link.delayMs))±\(Int(link.jitterMs)) ms loss \(link.lossPct)%")
        case .kill, .stop, .pause, .transfer, .member, .corrupt, .disk, .full, .clock, .hold, .powerLoss:
            throw ChaosError.harness("\(fault.type.rawValue) is not a network fault")
        }
    }

    /// Removes the rules fault `id` added (and for a delay or loss, returns the proxies to plain forwarding);
    /// the history's stop line.
    func heal(_ id: Int) async -> (fault: String, detail: String)? {
        for (node, specs) in (rules.removeValue(forKey: id) ?? [:]).sorted(by: { $0.key < $1.key }) where !specs.isEmpty {
            do {
                try await iptables(node, specs.map { "-D " + $0 })
            } catch {
                // A rule that cannot be removed would keep the partition up through the final checks.
                FileHandleOutput.warn("could not remove the partition rules of n\(node + 1): \(error)")
            }
        }
        let ended = active.removeValue(forKey: id)
        if ended?.fault == "delay" || ended?.fault == "loss" { proxies?.clearAll() }
        return ended
    }

    /// Rules in force, by node (for tests and the status line).
    var rulesInForce: [Int: [String]] {
        var all: [Int: [String]] = [:]
        for (_, byNode) in rules.sorted(by: { $0.key < $1.key }) { for (node, specs) in byNode { all[node, default: []] += specs } }
        return all
    }

    private func iptables(_ node: Int, _ lines: [String]) async throws {
        try await Shell.runAsync("ip", ["netns", "exec", network.namespace(node), Shell.path("iptables-restore"), "--noflush"],
                                 input: "*filter\n" + lines.joined(separator: "\n") + "\nCOMMIT\n")
    }
}
