import Checker
import XCTest

/// The WGL search (with its memo, twin pruning and the dropping of unobservable info operations) agrees with
/// a brute-force search over every order, on many small random register histories: valid and invalid.
final class LinearizabilityCrossCheckTests: XCTestCase {
    private struct Op {
        var kind: String
        var a: Int64
        var b: Int64
        var read: Int64?          // ok read result (nil = null)
        var outcome: String
        var invoke: Int
        var complete: Int
    }

    /// What a random history is made of.
    private struct Shape {
        var processes = 2...4
        var operations = 2...8
        var values = 3
        var kinds = ["read", "write", "cas"]
        /// Of the completions: ok, fail, info (out of 10).
        var ok = 7, fail = 1
        /// Chance that an ok read returns what a register applying each operation at its completion (and
        /// half of the info ones) would hold, rather than a random value: keeps longer histories from being
        /// almost all invalid.
        var truthful = 0.0
    }

    /// Random histories: by default 2-4 processes, up to 8 operations, values 0-2, random results and outcomes.
    private func randomHistory(_ random: inout SeededRandom, _ shape: Shape = Shape()) -> (String, [Op]) {
        var lines: [String] = []
        var ops: [Op] = []
        var pending: [Int64: Int] = [:]
        var nextProcess = Int64(shape.processes.lowerBound + random.below(shape.processes.count))
        var idle = Array(0..<nextProcess)
        let total = shape.operations.lowerBound + random.below(shape.operations.count)
        var current: Int64? = nil
        var started = 0
        while started < total || !pending.isEmpty {
            if started < total && !idle.isEmpty && (pending.isEmpty || random.chance(0.5)) {
                let p = idle.remove(at: random.below(idle.count))
                let kind = shape.kinds[random.below(shape.kinds.count)]
                let op = Op(kind: kind, a: Int64(random.below(shape.values)), b: Int64(random.below(shape.values)), read: nil, outcome: "info",
                            invoke: lines.count, complete: Int.max)
                let value = kind == "read" ? "null" : kind == "write" ? "\(op.a)" : "[\(op.a),\(op.b)]"
                lines.append(#"{"process":\#(p),"type":"invoke","f":"\#(kind)","value":\#(value),"time":0}"#)
                pending[p] = ops.count
                ops.append(op)
                started += 1
            } else if let p = pending.keys.sorted()[safe: random.below(max(1, pending.count))] {
                let i = pending.removeValue(forKey: p)!
                let roll = random.below(10)
                let outcome = roll < shape.ok ? "ok" : roll < shape.ok + shape.fail ? "fail" : "info"
                ops[i].outcome = outcome
                if outcome != "info" || random.chance(0.5) {
                    var value = ops[i].kind == "write" ? "\(ops[i].a)" : ops[i].kind == "cas" ? "[\(ops[i].a),\(ops[i].b)]" : "null"
                    if ops[i].kind == "read" && outcome == "ok" {
                        let r = random.below(shape.values + 1)
                        ops[i].read = random.chance(shape.truthful) ? current : r == shape.values ? nil : Int64(r)
                        value = ops[i].read.map(String.init) ?? "null"
                    }
                    if outcome == "ok" || (outcome == "info" && random.chance(0.5)) {
                        if ops[i].kind == "write" { current = ops[i].a }
                        if ops[i].kind == "cas" && current == ops[i].a { current = ops[i].b }
                    }
                    ops[i].complete = outcome == "info" ? Int.max : lines.count
                    lines.append(#"{"process":\#(p),"type":"\#(outcome)","f":"\#(ops[i].kind)","value":\#(value),"time":0}"#)
                }
                if outcome == "info" { idle.append(nextProcess); nextProcess += 1 } else { idle.append(p) }
            }
        }
        return (lines.joined(separator: "\n"), ops)
    }

    /// Whether some order of the ok operations and any subset of the info ones, respecting real time, gives
    /// every ok operation its result.
    private func bruteForce(_ all: [Op]) -> Bool {
        let ops = all.filter { $0.outcome == "ok" || ($0.outcome == "info" && $0.kind != "read") }
        var placed = Array(repeating: false, count: ops.count)
        // Configurations (placed set, state) already found to have no continuation: what follows depends on
        // nothing else, so this memo only saves time.
        var failed = Set<[Int64]>()
        func search(_ state: Int64?) -> Bool {
            if zip(ops, placed).allSatisfy({ $0.outcome != "ok" || $1 }) { return true }
            let configuration = placed.map { $0 ? 1 : 0 } + [state ?? -1]
            if failed.contains(configuration) { return false }
            for i in ops.indices where !placed[i] {
                // Every ok operation that completed before this one was invoked must already be placed.
                if ops.indices.contains(where: { !placed[$0] && $0 != i && ops[$0].complete < ops[i].invoke }) { continue }
                var next = state
                let o = ops[i]
                switch o.kind {
                case "read": if o.read != state { continue }
                case "write": next = o.a
                default:
                    if state != o.a { continue }
                    next = o.b
                }
                placed[i] = true
                if search(next) { placed[i] = false; return true }
                placed[i] = false
            }
            failed.insert(configuration)
            return false
        }
        return search(nil)
    }

    func testWGLAgreesWithBruteForceOnSmallRandomRegisterHistories() async throws {
        var random = SeededRandom(seed: 2024)
        var counts = (valid: 0, invalid: 0)
        for n in 0..<1500 {
            let (text, ops) = randomHistory(&random)
            let (h, r) = try await Support.check(text, model: .casRegister)
            let expected = bruteForce(ops)
            XCTAssertEqual(r.verdict, expected ? .valid : .invalid, "history \(n):\n\(text)\n\(r.text(h))")
            if expected { counts.valid += 1 } else { counts.invalid += 1 }
        }
        XCTAssertGreaterThan(counts.valid, 200)
        XCTAssertGreaterThan(counts.invalid, 200)
    }

    /// Histories aimed at the search's prunings (info operations only where consumed, forced reads, the memo
    /// that skips configurations having used more info operations, interchangeable info operations in call
    /// order) and at the refutations made before the search: many info writes and cas, and few values, so
    /// that concurrent writes of the same value and chains of info cas abound.
    func testPruningsAgreeWithBruteForceOnHistoriesFullOfInfoOperations() async throws {
        let shapes = [
            Shape(processes: 3...6, operations: 10...20, values: 2, ok: 5, fail: 1, truthful: 0.7),
            Shape(processes: 3...6, operations: 10...20, values: 2, kinds: ["read", "write", "write"], ok: 4, fail: 0, truthful: 0.7),
            Shape(processes: 3...6, operations: 10...20, values: 3, kinds: ["read", "cas", "cas", "write"], ok: 5, fail: 1, truthful: 0.9),
            Shape(processes: 2...5, operations: 10...20, values: 1, kinds: ["read", "write", "cas"], ok: 5, fail: 0, truthful: 0.5),
        ]
        var random = SeededRandom(seed: 77)
        for (s, shape) in shapes.enumerated() {
            var counts = (valid: 0, invalid: 0)
            for n in 0..<400 {
                let (text, ops) = randomHistory(&random, shape)
                let (h, r) = try await Support.check(text, model: .casRegister)
                let expected = bruteForce(ops)
                XCTAssertEqual(r.verdict, expected ? .valid : .invalid, "shape \(s) history \(n):\n\(text)\n\(r.text(h))")
                // The other order of trying completed operations (the checker falls back on it for long searches).
                var byCall = CheckOptions()
                byCall.registerSearchByCallFirst = true
                let other = try await Checker.check(h, options: byCall)
                XCTAssertEqual(other.verdict, r.verdict, "shape \(s) history \(n), by call:\n\(text)")
                if expected { counts.valid += 1 } else { counts.invalid += 1 }
            }
            XCTAssertGreaterThan(counts.valid, 60, "shape \(s)")
            XCTAssertGreaterThan(counts.invalid, 60, "shape \(s)")
        }
    }
}

private extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
