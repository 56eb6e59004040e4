import Checker
import XCTest

/// On many tiny list-append histories (simulated, then often with one read perturbed), the checker's verdict
/// agrees with a brute-force search for a strict-serializable order: every order of the ok transactions and
/// any subset of the info ones, respecting real time, executed serially against lists.
final class SerializabilityCrossCheckTests: XCTestCase {
    private func bruteForce(_ h: History, realtime: Bool) -> Bool {
        let ops = h.operations.indices.filter { h.operations[$0].outcome != .fail }
        var placed = Set<Int>()
        func search(_ state: [Int64: [Int64]]) -> Bool {
            if ops.allSatisfy({ h.operations[$0].outcome != .ok || placed.contains($0) }) { return true }
            for i in ops where !placed.contains(i) {
                // Every ok transaction that completed before this one was invoked must already be placed (an
                // info never completes: it may take effect at any time after its invocation).
                if realtime, ops.contains(where: { !placed.contains($0) && $0 != i && h.operations[$0].outcome == .ok
                                         && h.operations[$0].completeIndex < h.operations[i].invokeIndex }) { continue }
                var next = state
                var fits = true
                for m in h.operations[i].mopRange {
                    let mop = h.mops[m]
                    if mop.kind == .append { next[mop.key, default: []].append(mop.a) }
                    else if h.operations[i].outcome == .ok && Array(h.list(mop)) != (next[mop.key] ?? []) { fits = false; break }
                }
                if !fits { continue }
                placed.insert(i)
                if search(next) { placed.remove(i); return true }
                placed.remove(i)
            }
            return false
        }
        return search([:])
    }

    /// Perturbs one ok read: drops an element, empties it, adds another transaction's element, or swaps two.
    private func perturb(_ h: inout History, _ random: inout SeededRandom) {
        let reads = h.operations.indices.flatMap { op in
            h.operations[op].outcome == .ok ? h.operations[op].mopRange.filter { h.mops[$0].kind == .read } : []
        }
        guard !reads.isEmpty else { return }
        let m = reads[random.below(reads.count)]
        var list = Array(h.list(h.mops[m]))
        let appended = h.mops.filter { $0.kind == .append && $0.key == h.mops[m].key }.map(\.a)
        switch random.below(5) {
        case 0: if !list.isEmpty { list.removeLast() }
        case 1: if !list.isEmpty { list.removeFirst() }
        case 2: list = []
        case 3: if let e = appended.filter({ !list.contains($0) }).randomElement(using: &random) { list.append(e) }
        default: if list.count >= 2 { list.swapAt(0, list.count - 1) }
        }
        h.mops[m].listStart = Int32(h.elements.count)
        h.mops[m].listCount = Int32(list.count)
        h.elements.append(contentsOf: list)
    }

    func testStrictSerializableAgreesWithBruteForceOnTinyHistories() async throws {
        try await crossCheck(.strictSerializable, seed: 77)
    }

    func testSerializableAgreesWithBruteForceOnTinyHistories() async throws {
        try await crossCheck(.serializable, seed: 78)
    }

    private func crossCheck(_ level: Consistency, seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        var agreed = (valid: 0, invalid: 0)
        for n in 0..<1500 {
            var sim = ListAppendSimulation()
            sim.transactions = 2 + random.below(6)
            sim.processes = 2 + random.below(3)
            sim.activeKeys = 1 + random.below(3)
            sim.maxLength = 3
            sim.infoRate = 0.3
            sim.failRate = 0.1
            let generatorSeed = random.next()
            var h = try HistoryParser.parse(text: Support.generate { sim.generate(seed: generatorSeed, into: $0) })
            if random.chance(0.6) { perturb(&h, &random) }
            let r = try await Checker.check(h, options: CheckOptions(consistency: level))
            let serializable = bruteForce(h, realtime: level == .strictSerializable)
            let description = (0..<h.operations.count).map { h.introduce($0) }.joined(separator: "\n")
            XCTAssertEqual(r.verdict == .valid, serializable, "history \(n):\n\(description)\n\(r.text(h))")
            if serializable { agreed.valid += 1 } else { agreed.invalid += 1 }
        }
        XCTAssertGreaterThan(agreed.valid, 300)
        XCTAssertGreaterThan(agreed.invalid, 300)
    }
}
