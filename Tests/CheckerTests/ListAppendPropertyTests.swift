import Checker
import XCTest

/// Histories from a simulated serial database (random overlap, failures, crashes whose effect lands late or
/// never) are always valid; the same histories with one injected anomaly are invalid with exactly its class.
final class ListAppendPropertyTests: XCTestCase {
    /// A generated history with randomised shape, deterministic by seed.
    private func simulated(seed: UInt64) -> String {
        var random = SeededRandom(seed: seed ^ 0xC0FFEE)
        var sim = ListAppendSimulation()
        sim.transactions = 50 + random.below(250)
        sim.processes = 2 + random.below(25)
        sim.activeKeys = 1 + random.below(6)
        sim.maxWritesPerKey = 3 + random.below(20)
        sim.infoRate = Double(random.below(40)) / 100
        sim.failRate = Double(random.below(10)) / 100
        return Support.generate { sim.generate(seed: seed, into: $0) }
    }

    func testSimulatedHistoriesAreValidAtEveryLevel() async throws {
        for seed in UInt64(1)...40 {
            let text = simulated(seed: seed)
            for level in [Consistency.strictSerializable, .serializable, .snapshotIsolation] {
                let (h, r) = try await Support.check(text, consistency: level)
                XCTAssertEqual(r.verdict, .valid, "seed \(seed), \(level.rawValue): \(r.text(h))")
            }
        }
    }

    /// One anomaly as a fragment of events on fresh keys, processes and elements. `$k1`, `$k2`, `$p1`..,
    /// `$e1`.. are replaced by fresh numbers; lines keep their relative order when spread into a history.
    struct Injection {
        var name: String
        var expected: Set<String>
        var lines: [String]
    }

    static let injections: [Injection] = [
        Injection(name: "G0", expected: ["G0"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1],[\"append\",$k2,$e1]]"), inv("$p2", "[[\"append\",$k1,$e2],[\"append\",$k2,$e2]]"),
            ok("$p1", "[[\"append\",$k1,$e1],[\"append\",$k2,$e1]]"), ok("$p2", "[[\"append\",$k1,$e2],[\"append\",$k2,$e2]]"),
            inv("$p3", "[[\"r\",$k1,null],[\"r\",$k2,null]]"), ok("$p3", "[[\"r\",$k1,[$e1,$e2]],[\"r\",$k2,[$e2,$e1]]]"),
        ]),
        Injection(name: "G1a", expected: ["G1a"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), fail("$p1", "[[\"append\",$k1,$e1]]"),
            inv("$p2", "[[\"r\",$k1,null]]"), ok("$p2", "[[\"r\",$k1,[$e1]]]"),
        ]),
        Injection(name: "G1b", expected: ["G1b", "G-single"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1],[\"append\",$k1,$e2]]"), inv("$p2", "[[\"r\",$k1,null]]"),
            ok("$p2", "[[\"r\",$k1,[$e1]]]"), ok("$p1", "[[\"append\",$k1,$e1],[\"append\",$k1,$e2]]"),
            inv("$p3", "[[\"r\",$k1,null]]"), ok("$p3", "[[\"r\",$k1,[$e1,$e2]]]"),
        ]),
        Injection(name: "G1c", expected: ["G1c"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1],[\"r\",$k2,null]]"), inv("$p2", "[[\"append\",$k2,$e1],[\"r\",$k1,null]]"),
            ok("$p1", "[[\"append\",$k1,$e1],[\"r\",$k2,[$e1]]]"), ok("$p2", "[[\"append\",$k2,$e1],[\"r\",$k1,[$e1]]]"),
        ]),
        Injection(name: "G-single", expected: ["G-single"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1],[\"append\",$k2,$e1]]"), inv("$p2", "[[\"r\",$k1,null],[\"r\",$k2,null]]"),
            ok("$p1", "[[\"append\",$k1,$e1],[\"append\",$k2,$e1]]"), ok("$p2", "[[\"r\",$k1,[]],[\"r\",$k2,[$e1]]]"),
        ]),
        Injection(name: "G2-item", expected: ["G2-item"], lines: [
            inv("$p1", "[[\"r\",$k1,null],[\"append\",$k2,$e1]]"), inv("$p2", "[[\"r\",$k2,null],[\"append\",$k1,$e1]]"),
            ok("$p1", "[[\"r\",$k1,[]],[\"append\",$k2,$e1]]"), ok("$p2", "[[\"r\",$k2,[]],[\"append\",$k1,$e1]]"),
        ]),
        Injection(name: "internal", expected: ["internal"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1],[\"r\",$k1,null]]"), ok("$p1", "[[\"append\",$k1,$e1],[\"r\",$k1,[]]]"),
        ]),
        Injection(name: "duplicate", expected: ["duplicate-elements"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), ok("$p1", "[[\"append\",$k1,$e1]]"),
            inv("$p2", "[[\"r\",$k1,null]]"), ok("$p2", "[[\"r\",$k1,[$e1,$e1]]]"),
        ]),
        Injection(name: "incompatible", expected: ["incompatible-order"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), inv("$p2", "[[\"append\",$k1,$e2]]"),
            ok("$p1", "[[\"append\",$k1,$e1]]"), ok("$p2", "[[\"append\",$k1,$e2]]"),
            inv("$p3", "[[\"r\",$k1,null]]"), inv("$p4", "[[\"r\",$k1,null]]"),
            ok("$p3", "[[\"r\",$k1,[$e1,$e2]]]"), ok("$p4", "[[\"r\",$k1,[$e2,$e1]]]"),
        ]),
        Injection(name: "lost-update", expected: ["lost-update", "G-single"], lines: [
            inv("$p1", "[[\"r\",$k1,null],[\"append\",$k1,$e1]]"), inv("$p2", "[[\"r\",$k1,null],[\"append\",$k1,$e2]]"),
            ok("$p1", "[[\"r\",$k1,[]],[\"append\",$k1,$e1]]"), ok("$p2", "[[\"r\",$k1,[]],[\"append\",$k1,$e2]]"),
            inv("$p3", "[[\"r\",$k1,null]]"), ok("$p3", "[[\"r\",$k1,[$e1,$e2]]]"),
        ]),
        Injection(name: "garbage", expected: ["garbage-read"], lines: [
            inv("$p1", "[[\"r\",$k1,null]]"), ok("$p1", "[[\"r\",$k1,[$e1]]]"),
        ]),
        Injection(name: "stale read", expected: ["G-single-realtime"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), ok("$p1", "[[\"append\",$k1,$e1]]"),
            inv("$p2", "[[\"r\",$k1,null]]"), ok("$p2", "[[\"r\",$k1,[]]]"),
        ]),
        Injection(name: "G0-realtime", expected: ["G0-realtime"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), ok("$p1", "[[\"append\",$k1,$e1]]"),
            inv("$p2", "[[\"append\",$k1,$e2]]"), ok("$p2", "[[\"append\",$k1,$e2]]"),
            inv("$p3", "[[\"r\",$k1,null]]"), ok("$p3", "[[\"r\",$k1,[$e2,$e1]]]"),
        ]),
        Injection(name: "G1c-realtime", expected: ["G1c-realtime"], lines: [
            inv("$p1", "[[\"r\",$k1,null]]"), ok("$p1", "[[\"r\",$k1,[$e1]]]"),
            inv("$p2", "[[\"append\",$k1,$e1]]"), ok("$p2", "[[\"append\",$k1,$e1]]"),
        ]),
        Injection(name: "G-single-process", expected: ["G-single-process"], lines: [
            inv("$p1", "[[\"append\",$k1,$e1]]"), ok("$p1", "[[\"append\",$k1,$e1]]"),
            inv("$p1", "[[\"r\",$k1,null]]"), ok("$p1", "[[\"r\",$k1,[]]]"),
        ]),
    ]

    private static func event(_ p: String, _ type: String, _ value: String) -> String {
        "{\"process\":\(p),\"type\":\"\(type)\",\"f\":\"txn\",\"value\":\(value),\"time\":0}"
    }
    private static func inv(_ p: String, _ v: String) -> String {
        event(p, "invoke", v.replacingOccurrences(of: #"\[\$e\d+(,\$e\d+)*\]|\[\]"#, with: "null", options: .regularExpression))
    }
    private static func ok(_ p: String, _ v: String) -> String { event(p, "ok", v) }
    private static func fail(_ p: String, _ v: String) -> String { event(p, "fail", v) }

    /// Spreads the fragment's lines over the history at random places, keeping their order.
    private func inject(_ injection: Injection, into text: String, seed: UInt64) -> String {
        var random = SeededRandom(seed: seed)
        var lines = text.split(separator: "\n").map(String.init)
        let fresh = 50_000_000
        var fragment = injection.lines.map { line in
            var l = line
            for i in (1...4).reversed() {
                l = l.replacingOccurrences(of: "$k\(i)", with: String(fresh + i))
                    .replacingOccurrences(of: "$p\(i)", with: String(fresh + i))
                    .replacingOccurrences(of: "$e\(i)", with: String(fresh + i))
            }
            return l
        }
        var positions = (0..<fragment.count).map { _ in random.below(lines.count + 1) }.sorted()
        // Insert from the back so earlier positions stay valid; equal positions keep fragment order.
        while let line = fragment.popLast() {
            lines.insert(line, at: positions.removeLast())
        }
        return lines.joined(separator: "\n")
    }

    func testOneInjectedAnomalyIsFoundWithItsClass() async throws {
        for injection in Self.injections {
            for seed in UInt64(1)...6 {
                let text = inject(injection, into: simulated(seed: seed * 31 + 7), seed: seed)
                let (h, r) = try await Support.check(text)
                XCTAssertEqual(r.verdict, .invalid, "\(injection.name), seed \(seed)")
                XCTAssertEqual(Set(r.anomalyTypes), injection.expected, "\(injection.name), seed \(seed): \(r.text(h))")
            }
        }
    }

    func testInfoTransactionsNeverCauseAReport() async throws {
        // Every transaction crashes (info or no completion) at one rate or another; reads of an info's
        // appends prove it happened, the rest may or may not have: never an anomaly.
        for seed in UInt64(100)...115 {
            var sim = ListAppendSimulation()
            sim.transactions = 200
            sim.processes = 15
            sim.activeKeys = 2
            sim.infoRate = 0.9
            let text = Support.generate { sim.generate(seed: seed, into: $0) }
            let (h, r) = try await Support.check(text)
            XCTAssertGreaterThan(h.operations.filter { $0.outcome == .info }.count, 100)
            XCTAssertEqual(r.verdict, .valid, "seed \(seed): \(r.text(h))")
        }
    }
}
