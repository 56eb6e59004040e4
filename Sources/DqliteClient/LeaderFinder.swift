import DqliteWire

/// Finds the leader as go-dqlite's connector does: try the last known leader; otherwise ask every known node
/// (several at once) for the leader. A node is the leader only when the address it reports is exactly the
/// address that was dialled; a follower's answer is followed once. Rounds repeat with backoff until the
/// deadline.
struct LeaderFinder: Sendable {
    let config: ClientConfig

    /// Returns a registered connection to the leader, and the last error seen on the way when there is none.
    func find(addresses: [String], lastLeader: String?) async throws(DqliteError) -> NodeClient {
        let start = ContinuousClock.now
        var lastError: String?
        var round = 1
        while true {
            if let lastLeader, let client = await probe(lastLeader, lastError: &lastError) { return client }
            if let client = await probeAll(addresses, lastError: &lastError) { return client }
            let backoff = config.retry.backoff(afterAttempt: round)
            if ContinuousClock.now + backoff - start >= config.leaderTimeout {
                throw .noLeader(addresses: addresses, lastError: lastError)
            }
            try? await Task.sleep(for: backoff)
            if Task.isCancelled { throw .noLeader(addresses: addresses, lastError: "cancelled") }
            round += 1
        }
    }

    private func probeAll(_ addresses: [String], lastError: inout String?) async -> NodeClient? {
        var found: NodeClient?
        var errors: [String] = []
        await withTaskGroup(of: (NodeClient?, String?).self) { group in
            var pending = addresses[...]
            func startNext() {
                guard let address = pending.popFirst() else { return }
                group.addTask {
                    var error: String?
                    let client = await probe(address, lastError: &error)
                    return (client, error)
                }
            }
            for _ in 0..<max(1, config.maxParallelProbes) { startNext() }
            for await (client, error) in group {
                if let error { errors.append(error) }
                if let client {
                    if found == nil { found = client } else { client.close() }
                    group.cancelAll()
                } else if found == nil {
                    startNext()
                }
            }
        }
        if found == nil, let last = errors.last { lastError = last }
        return found
    }

    /// Asks `address` for the leader; follows a redirect once.
    private func probe(_ address: String, lastError: inout String?) async -> NodeClient? {
        var target = address
        for _ in 0..<2 {
            if Task.isCancelled { return nil }
            let wire: WireConnection
            do {
                wire = try await WireConnection.dial(target, timeout: config.dialTimeout, maxMessageBytes: config.maxMessageBytes, tls: config.tls)
            } catch {
                lastError = error.description
                return nil
            }
            let client = NodeClient(connection: wire, timeout: config.requestTimeout)
            do {
                guard let leader = try await client.leader() else {
                    lastError = "\(target) knows no leader"
                    client.close()
                    return nil
                }
                if leader.address == target {
                    try await client.register(clientID: config.clientID)
                    return client
                }
                client.close()
                target = leader.address
            } catch {
                lastError = error.description
                client.close()
                return nil
            }
        }
        lastError = "\(address) pointed at a leader that did not confirm"
        return nil
    }
}
