import XCTest
import Foundation
import DqliteClient
import LocalCluster

/// `libdqlite-clock-faults.so` under real processes: what a process reads of its clocks moves with the control
/// file the bed writes (`ClockControl`), and nothing moves without one.
final class ClockFaultsTests: XCTestCase {
    private var library: String { CommandRunner.productsDirectory + "/libdqlite-clock-faults.so" }

    private func control() throws -> ClockControl {
        let path = NSTemporaryDirectory() + "clock-\(UUID().uuidString)"
        addTeardownBlock { unlink(path) }
        return try ClockControl(path: path)
    }

    /// Runs python3 under the library: it sleeps `seconds` by its own clock and prints what its clocks said;
    /// `real` is how long that took in real time (process start included).
    private func measure(_ c: ClockControl?, sleep seconds: Double) async throws -> (realtime: Double, monotonic: Double, boottime: Double, startedAt: Double, real: Double) {
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = library
        if let c { environment["DQLITE_CLOCK_FAULTS"] = c.path }
        let script = """
            import time
            r, m, b = time.time(), time.clock_gettime(time.CLOCK_MONOTONIC), time.clock_gettime(time.CLOCK_BOOTTIME)
            time.sleep(\(seconds))
            print(r, time.time() - r, time.clock_gettime(time.CLOCK_MONOTONIC) - m, time.clock_gettime(time.CLOCK_BOOTTIME) - b)
            """
        let started = ContinuousClock.now
        let result = try await CommandRunner.run("/usr/bin/env", ["python3", "-c", script], environment: environment, timeout: .seconds(30))
        let real = ContinuousClock.now - started
        XCTAssertEqual(result.status, 0, result.stderr)
        let f = result.stdout.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard f.count == 4 else { throw XCTSkip("unexpected output: \(result.stdout) \(result.stderr)") }
        return (f[1], f[2], f[3], f[0], Double(real.components.seconds) + Double(real.components.attoseconds) / 1e18)
    }

    func testAJumpMovesTheWallClockOnly() async throws {
        let c = try control()
        c.set(.jump(nanoseconds: 3_600_000_000_000))
        let m = try await measure(c, sleep: 0.2)
        XCTAssertEqual(m.startedAt, Date().timeIntervalSince1970 + 3600, accuracy: 5, "wall time an hour ahead")
        XCTAssertEqual(m.monotonic, 0.2, accuracy: 0.15, "monotonic clocks do not jump, and sleeps end on time")
        XCTAssertEqual(c.shiftNs.monotonic, 0)
    }

    /// A process sleeping one second by its own clocks (an absolute deadline on CLOCK_MONOTONIC in Python)
    /// takes 1/rate real seconds, and its clocks agree with each other.
    func testARateMakesTheClocksAndTheirWaitsRunFasterOrSlower() async throws {
        let startup = try await measure(nil, sleep: 1).real - 1  // the interpreter's own start, measured
        for rate in [4.0, 0.5] {
            let c = try control()
            c.set(.rate(rate))
            let m = try await measure(c, sleep: 1)
            for (name, seconds) in [("realtime", m.realtime), ("monotonic", m.monotonic), ("boottime", m.boottime)] {
                XCTAssertEqual(seconds, 1, accuracy: 0.1, "\(name): the process slept one second of its own time")
            }
            XCTAssertEqual(m.real - startup, 1 / rate, accuracy: 0.15 + 0.1 / rate,
                           "at rate \(rate) that is \(1 / rate) real seconds (took \(m.real), \(startup) of it starting)")
        }
    }

    func testAStrobeMovesTheWallClockBackAndForth() async throws {
        let c = try control()
        c.set(.strobe(periodNs: 500_000_000, amplitudeNs: 10_000_000_000))
        var samples: [Int64] = []
        for _ in 0..<8 {
            samples.append(c.shiftNs.wall)
            try await Task.sleep(for: .milliseconds(250))
        }
        XCTAssertTrue(samples.contains(0) && samples.contains(10_000_000_000), "\(samples)")
    }

    func testWithoutAFaultTheClocksAreReal() async throws {
        let m = try await measure(nil, sleep: 0.3)
        XCTAssertEqual(m.startedAt, Date().timeIntervalSince1970, accuracy: 5)
        XCTAssertEqual(m.monotonic, 0.3, accuracy: 0.2)
        let c = try control()
        c.set(.rate(4))
        try await Task.sleep(for: .milliseconds(100))
        c.set(.none)
        XCTAssertEqual(c.shiftNs.wall, 0, "healed: the wall clock is real again")
        XCTAssertGreaterThan(c.shiftNs.monotonic, 250_000_000, "monotonic clocks keep their lead (about 300 ms)")
        XCTAssertEqual(c.current, .none)
    }

    /// A node's wall clock (SQLite's datetime('now')) under a jump of a day, then under a strobe.
    func testANodesWallClockFollowsJumpsAndStrobes() async throws {
        let c = try control()
        let cluster = try await ProcessCluster.start(nodes: 1, kind: .swiftNode(executable: CommandRunner.productsDirectory + "/dqlite-node"),
                                                     environment: { [library, path = c.path] _ in ["LD_PRELOAD": library, "DQLITE_CLOCK_FAULTS": path] })
        addTeardownBlock { await cluster.stop() }
        let db = try await DqliteClient(addresses: cluster.addresses).open("clock")
        func ahead() async throws -> Double {
            let rows = try await db.queryAll("SELECT (julianday('now') - 2440587.5) * 86400.0").rows
            guard case .float(let seconds) = rows.first?.first else { throw XCTSkip("\(rows)") }
            return seconds - Date().timeIntervalSince1970
        }
        c.set(.jump(nanoseconds: 86_400_000_000_000))
        let jumped = try await ahead()
        XCTAssertEqual(jumped, 86_400, accuracy: 10, "the node's wall time is a day ahead")
        c.set(.none)
        c.set(.strobe(periodNs: 300_000_000, amplitudeNs: 60_000_000_000))
        var seen: [Double] = []
        for _ in 0..<12 {
            seen.append(try await ahead())
            try await Task.sleep(for: .milliseconds(110))
        }
        XCTAssertTrue(seen.contains { abs($0) < 5 } && seen.contains { abs($0 - 60) < 5 }, "now real, now a minute ahead: \(seen)")
    }

    /// C-Raft's election timer, through libuv, under a rate: with the leader killed (fast failover off), the
    /// followers elect a new one after 1-2 election timeouts (1 s here) of their own time; at 4x that is a
    /// quarter of the real time, at 0.25x four times it.
    func testARateMovesANodesElectionTimer() async throws {
        func failover(rate: Double) async throws -> Double {
            let dir = NSTemporaryDirectory() + "clocks-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let controls = try (0..<3).map { try ClockControl(path: dir + "/n\($0 + 1)") }
            let cluster = try await ProcessCluster.start(
                nodes: 3, kind: .swiftNode(executable: CommandRunner.productsDirectory + "/dqlite-node", arguments: ["--no-fast-failover"]),
                environment: { [library] i in ["LD_PRELOAD": library, "DQLITE_CLOCK_FAULTS": dir + "/n\(i + 1)"] })
            addTeardownBlock { await cluster.stop() }
            let leader = try await cluster.leaderIndex()
            let survivors = (0..<3).filter { $0 != leader }
            for i in survivors { controls[i].set(.rate(rate)) }
            await cluster.kill(leader)
            let killed = ContinuousClock.now
            var config = ClientConfig()
            config.leaderTimeout = .seconds(30)
            let addresses = survivors.map { cluster.addresses[$0] }
            _ = try await DqliteClient(addresses: addresses, config: config).leaderAddress()
            let took = ContinuousClock.now - killed
            await cluster.stop()
            return Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        }
        let fast = try await failover(rate: 4)
        let slow = try await failover(rate: 0.25)
        print("new leader after SIGKILL, followers' clocks at 4x: \(fast) s, at 0.25x: \(slow) s (1-2 s at 1x)")
        XCTAssertLessThan(fast, 1.0, "at 4x the election timer (1-2 s of the node's time) fired within about half a second")
        XCTAssertGreaterThan(slow, 3.5, "at 0.25x it took at least four real seconds")
    }

    /// The node's clock defence (`ClockAgreement`): followers whose clocks run at 3x the leader's make it stop
    /// serving reads under a lease (it says so in its log), so with them paused a read is not answered; with
    /// the defence off (`--unsafe-lease-any-clock`) the same read is served at once from the lease.
    func testALeaderStopsLeasingReadsWhileItsVotersClocksRunFast() async throws {
        func readWithFollowersPaused(defence: Bool) async throws -> (served: Bool, log: String) {
            let dir = NSTemporaryDirectory() + "clocks-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let controls = try (0..<3).map { try ClockControl(path: dir + "/n\($0 + 1)") }
            let cluster = try await ProcessCluster.start(
                nodes: 3, kind: .swiftNode(executable: CommandRunner.productsDirectory + "/dqlite-node",
                                           arguments: defence ? [] : ["--unsafe-lease-any-clock"]),
                environment: { [library] i in ["LD_PRELOAD": library, "DQLITE_CLOCK_FAULTS": dir + "/n\(i + 1)"] })
            let indices = Array(cluster.addresses.indices)
            addTeardownBlock {
                for i in indices { await cluster.signal(i, SIGCONT) }
                await cluster.stop()
            }
            let leader = try await cluster.leaderIndex()
            let followers = indices.filter { $0 != leader }
            var config = ClientConfig()
            config.requestTimeout = .seconds(3)
            config.retry = .none
            let db = try await DqliteClient(addresses: [cluster.addresses[leader]], config: config).open("clock")
            try await db.exec("CREATE TABLE t (n INTEGER)")
            for i in followers { controls[i].set(.rate(3)) }
            // Reads for two seconds: rounds of probes, whose answers carry the followers' clocks.
            let until = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < until {
                _ = try await db.queryAll("SELECT count(*) FROM t")
                try await Task.sleep(for: .milliseconds(20))
            }
            for i in followers { await cluster.signal(i, SIGSTOP) }
            let served = (try? await db.queryAll("SELECT count(*) FROM t")) != nil
            for i in followers { await cluster.signal(i, SIGCONT) }
            let log = await cluster.recentLog(leader)
            await cluster.stop()
            return (served, log)
        }
        let guarded = try await readWithFollowersPaused(defence: true)
        XCTAssertFalse(guarded.served, "no lease while the voters' clocks run at 3x: the read needed them")
        XCTAssertTrue(guarded.log.contains("x this leader's rate (over 5% fast)"), guarded.log)
        let unguarded = try await readWithFollowersPaused(defence: false)
        XCTAssertTrue(unguarded.served, "with the defence off the lease served the read without the voters")
    }
}
