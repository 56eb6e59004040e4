import LocalCluster
#if canImport(Glibc)
import Glibc
#endif

/// The network side of one run: the isolation it resolved to and, in netns mode, the namespaces, bridge and
/// link proxies, made before the nodes start and removed after they stop.
struct RunNetwork: Sendable {
    let isolation: ClusterSpec.Isolation
    let network: NetnsNetwork?
    let proxies: LinkProxies?

    /// Resolves `cluster.isolation` (unset: netns when root and `ip netns` works) and builds the network.
    /// Refuses netns without root, and network faults without netns, before anything starts.
    static func make(for s: Scenario, plan: [PlannedFault]) throws -> RunNetwork {
        let isolation = s.cluster.isolation ?? (NetnsNetwork.available ? .netns : .loopback)
        let needed = Set(plan.map(\.type).filter(\.needsNetns)).map(\.rawValue).sorted()
        switch isolation {
        case .loopback:
            guard needed.isEmpty else {
                throw ChaosError.harness("\(needed.joined(separator: ", ")) faults need isolation: netns (run as root where `ip netns` works)")
            }
            return RunNetwork(isolation: .loopback, network: nil, proxies: nil)
        case .netns:
            guard geteuid() == 0 else {
                throw ChaosError.harness("isolation: netns needs root (network namespaces, veths and iptables rules); run as root or use isolation: loopback")
            }
            guard NetnsNetwork.available else { throw ChaosError.harness("isolation: netns, but `ip netns list` fails here") }
            let network = try NetnsNetwork.create(nodes: s.cluster.nodes)
            // Proxies only when the plan delays or cuts links: they cost a hop on every Raft message.
            let wantProxies = plan.contains { $0.type == .delay || $0.type == .loss }
            do {
                return RunNetwork(isolation: .netns, network: network, proxies: wantProxies ? try LinkProxies(network: network) : nil)
            } catch {
                network.remove()
                throw error
            }
        }
    }

    var placement: ProcessCluster.Placement { network?.placement ?? .loopback }

    func nemesis() -> NetworkNemesis? { network.map { NetworkNemesis(network: $0, proxies: proxies) } }

    var summary: String {
        guard let network else { return "isolation loopback" }
        return "isolation netns: namespaces \(network.namespace(0))..\(network.nodeCount), bridge \(network.bridge) \(network.hostIP)/24"
            + (proxies == nil ? "" : ", link proxies on every node-to-node link")
    }

    func remove() {
        proxies?.stop()
        network?.remove()
    }
}
