import Checker
import XCTest

/// Register and set histories simulated with overlap, failures and crashes are valid; one injected anomaly
/// makes them invalid with its class.
final class RegisterAndSetPropertyTests: XCTestCase {
    private func register(seed: UInt64, operations: Int = 200) -> String {
        var random = SeededRandom(seed: seed ^ 0xBEEF)
        var sim = RegisterSimulation()
        sim.operations = operations
        sim.processes = 2 + random.below(12)
        sim.keys = 1 + random.below(3)
        sim.valueRange = 2 + random.below(6)
        sim.infoRate = Double(random.below(30)) / 100
        return Support.generate { sim.generate(seed: seed, into: $0) }
    }

    private func set(seed: UInt64) -> String {
        var random = SeededRandom(seed: seed ^ 0xFACE)
        var sim = SetSimulation()
        sim.operations = 50 + random.below(150)
        sim.processes = 2 + random.below(10)
        sim.infoRate = Double(random.below(30)) / 100
        return Support.generate { sim.generate(seed: seed, into: $0) }
    }

    func testSimulatedRegisterHistoriesAreLinearizable() async throws {
        for seed in UInt64(1)...30 {
            let (h, r) = try await Support.check(register(seed: seed), model: .casRegister)
            XCTAssertEqual(r.verdict, .valid, "seed \(seed): \(r.text(h))")
        }
    }

    func testARegisterReadOfAValueNeverWrittenOrAStaleValueIsNotLinearizable() async throws {
        for seed in UInt64(1)...15 {
            var h = try HistoryParser.parse(text: register(seed: seed), model: .casRegister)
            var random = SeededRandom(seed: seed)
            let reads = h.operations.indices.filter { h.operations[$0].function == .read && h.operations[$0].outcome == .ok }
            let victim = reads[random.below(reads.count)]
            h.mops[Int(h.operations[victim].mopStart)].a = 1_000_000
            h.mops[Int(h.operations[victim].mopStart)].hasValue = true
            let r = try await Checker.check(h)
            XCTAssertEqual(r.verdict, .invalid, "seed \(seed)")
            XCTAssertEqual(r.anomalyTypes, ["nonlinearizable"])
            XCTAssertTrue(r.anomalies[0].explanation.joined().contains("no operation ever wrote 1000000"), r.text(h))
        }
        // A read after two completed writes returns the first value, on a fresh key spread into the history.
        for seed in UInt64(1)...10 {
            var lines = register(seed: seed).split(separator: "\n").map(String.init)
            var random = SeededRandom(seed: seed)
            let fragment = [
                #"{"process":90000001,"type":"invoke","f":"write","value":71,"time":0,"key":777}"#,
                #"{"process":90000001,"type":"ok","f":"write","value":71,"time":0,"key":777}"#,
                #"{"process":90000001,"type":"invoke","f":"write","value":72,"time":0,"key":777}"#,
                #"{"process":90000001,"type":"ok","f":"write","value":72,"time":0,"key":777}"#,
                #"{"process":90000002,"type":"invoke","f":"read","value":null,"time":0,"key":777}"#,
                #"{"process":90000002,"type":"ok","f":"read","value":71,"time":0,"key":777}"#,
            ]
            var positions = fragment.map { _ in random.below(lines.count + 1) }.sorted()
            for line in fragment.reversed() { lines.insert(line, at: positions.removeLast()) }
            let (h, r) = try await Support.check(lines.joined(separator: "\n"), model: .casRegister)
            XCTAssertEqual(r.anomalyTypes, ["nonlinearizable"], "seed \(seed): \(r.text(h))")
            XCTAssertEqual(r.anomalies.first?.key, 777)
        }
    }

    func testAnExhaustedBudgetIsUnknownNeverAGuess() async throws {
        // 40 concurrent writers of one value each, all info, and a read of each value: the search is large.
        var lines: [String] = []
        for p in 0..<14 { lines.append(#"{"process":\#(p),"type":"invoke","f":"write","value":\#(p % 3),"time":0}"#) }
        for p in 14..<200 {
            lines.append(#"{"process":\#(p),"type":"invoke","f":"\#(p % 2 == 0 ? "read" : "cas")","value":\#(p % 2 == 0 ? "null" : "[\(p % 3),\((p + 1) % 3)]"),"time":0}"#)
            lines.append(#"{"process":\#(p),"type":"\#(p % 2 == 0 ? "ok" : "info")","f":"\#(p % 2 == 0 ? "read" : "cas")","value":\#(p % 2 == 0 ? String(p % 3) : "[\(p % 3),\((p + 1) % 3)]"),"time":0}"#)
        }
        let (_, r) = try await Support.check(lines.joined(separator: "\n"), model: .casRegister, timeLimit: .nanoseconds(1))
        XCTAssertEqual(r.verdict, .unknown)
        XCTAssertFalse(r.unknownReasons.isEmpty)
    }

    func testSimulatedSetHistoriesAreValid() async throws {
        for seed in UInt64(1)...30 {
            let (h, r) = try await Support.check(set(seed: seed))
            XCTAssertEqual(h.model, .set)
            XCTAssertEqual(r.verdict, .valid, "seed \(seed): \(r.text(h))")
        }
    }

    /// Rewrites read `op`'s list in place (appending the new list to the element store).
    private func rewrite(_ h: inout History, read op: Int, _ change: ([Int64]) -> [Int64]) {
        let m = Int(h.operations[op].mopStart)
        let list = change(Array(h.list(h.mops[m])))
        h.mops[m].listStart = Int32(h.elements.count)
        h.mops[m].listCount = Int32(list.count)
        h.elements.append(contentsOf: list)
    }

    func testOneInjectedSetAnomalyIsFoundWithItsClass() async throws {
        for seed in UInt64(1)...12 {
            let base = try HistoryParser.parse(text: set(seed: seed))
            let ops = base.operations
            let reads = ops.indices.filter { ops[$0].function == .read && ops[$0].outcome == .ok }
            // An acknowledged add with at least two reads that began after it completed.
            guard let add = ops.indices.first(where: { a in
                ops[a].function == .add && ops[a].outcome == .ok && reads.filter { ops[$0].invokeIndex > ops[a].completeIndex }.count >= 2
            }) else { continue }
            let e = base.mops[Int(ops[add].mopStart)].a
            let later = reads.filter { ops[$0].invokeIndex > ops[add].completeIndex }

            var lost = base
            for r in reads where ops[r].invokeIndex > ops[add].invokeIndex { rewrite(&lost, read: r) { $0.filter { $0 != e } } }
            var stale = base
            rewrite(&stale, read: later[0]) { $0.filter { $0 != e } }
            var unexpected = base
            rewrite(&unexpected, read: later[0]) { $0 + [987_654_321] }
            var duplicate = base
            rewrite(&duplicate, read: later[0]) { $0 + [e] }

            for (h, expected) in [(lost, "lost"), (stale, "stale-read"), (unexpected, "unexpected"), (duplicate, "duplicate")] {
                let r = try await Checker.check(h)
                XCTAssertEqual(r.anomalyTypes, [expected], "seed \(seed): \(r.text(h))")
            }
        }
    }
}
