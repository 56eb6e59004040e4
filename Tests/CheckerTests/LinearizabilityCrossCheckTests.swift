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

    /// Random histories: 2-4 processes, up to 8 operations, values 0-2, random results and outcomes.
    private func randomHistory(_ random: inout SeededRandom) -> (String, [Op]) {
        var lines: [String] = []
        var ops: [Op] = []
        var pending: [Int64: Int] = [:]
        var nextProcess: Int64 = Int64(2 + random.below(3))
        var idle = Array(0..<nextProcess)
        let total = 2 + random.below(7)
        var started = 0
        while started < total || !pending.isEmpty {
            if started < total && !idle.isEmpty && (pending.isEmpty || random.chance(0.5)) {
                let p = idle.remove(at: random.below(idle.count))
                let kind = ["read", "write", "cas"][random.below(3)]
                let op = Op(kind: kind, a: Int64(random.below(3)), b: Int64(random.below(3)), read: nil, outcome: "info",
                            invoke: lines.count, complete: Int.max)
                let value = kind == "read" ? "null" : kind == "write" ? "\(op.a)" : "[\(op.a),\(op.b)]"
                lines.append(#"{"process":\#(p),"type":"invoke","f":"\#(kind)","value":\#(value),"time":0}"#)
                pending[p] = ops.count
                ops.append(op)
                started += 1
            } else if let p = pending.keys.sorted()[safe: random.below(max(1, pending.count))] {
                let i = pending.removeValue(forKey: p)!
                let roll = random.below(10)
                let outcome = roll < 7 ? "ok" : roll < 8 ? "fail" : "info"
                ops[i].outcome = outcome
                if outcome != "info" || random.chance(0.5) {
                    var value = ops[i].kind == "write" ? "\(ops[i].a)" : ops[i].kind == "cas" ? "[\(ops[i].a),\(ops[i].b)]" : "null"
                    if ops[i].kind == "read" && outcome == "ok" {
                        let r = random.below(4)
                        ops[i].read = r == 3 ? nil : Int64(r)
                        value = ops[i].read.map(String.init) ?? "null"
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
        func search(_ state: Int64?) -> Bool {
            if zip(ops, placed).allSatisfy({ $0.outcome != "ok" || $1 }) { return true }
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
}

private extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
