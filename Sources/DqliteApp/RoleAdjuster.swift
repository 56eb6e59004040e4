import DqliteClient
import DqliteNode
import DqliteWire
import Logging

/// The leader's role loop: every interval, while this node leads, poll the members and apply the changes
/// `RolePlanner` asks for, one configuration change at a time, in its order.
struct RoleAdjuster: Sendable {
    let id: UInt64
    let address: String
    let node: Node
    let client: DqliteClient
    let options: DqliteAppOptions

    func run() async {
        var poll: MemberPoll?
        while !Task.isCancelled {
            try? await Task.sleep(for: options.rolesAdjustmentInterval)
            guard !Task.isCancelled else { return }
            guard await node.isLeader else {
                poll = nil  // a new term of leadership starts its own view (and its own grace)
                continue
            }
            let current = poll ?? MemberPoll(unreachableAfter: options.unreachableAfter, tls: options.node.tls)
            poll = current
            await adjust(current)
        }
    }

    private func adjust(_ poll: MemberPoll) async {
        var config = ClientConfig()
        config.requestTimeout = .seconds(10)
        config.tls = options.node.tls
        do {
            let c = try await NodeClient.connect(to: address, config: config)
            defer { c.close() }
            let members = try await c.cluster()
            client.setAddresses(members.map(\.address))
            let myWeight = (try? await c.describe().weight) ?? options.weight  // raised by a handover under way
            let view = await poll.poll(members, me: id, myDomain: options.failureDomain, myWeight: myWeight)
            let changes = RolePlanner.plan(view, voters: options.voters, standBys: options.standBys, leader: id)
            for change in changes {
                guard await node.isLeader, !Task.isCancelled else { return }
                try await c.assign(id: change.id, role: change.role)
                options.node.logger.info("roles: node \(change.id) → \(change.role)\(view.first { $0.id == change.id }?.online == false ? " (unreachable)" : "")")
            }
        } catch {
            options.node.logger.debug("roles: \(error)")
        }
    }
}
