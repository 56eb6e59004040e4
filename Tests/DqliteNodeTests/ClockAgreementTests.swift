@testable import DqliteNode
import XCTest

/// The leader's measure of its voters' clock rates (`ClockAgreement`): answers a second or more apart within
/// three seconds bound the ratio from above; a lease rests only on voters proven at most 5% fast.
final class ClockAgreementTests: XCTestCase {
    /// An answer at leader time `ms` (a 1 ms round trip) from a voter whose clock reads `voterMs`.
    private func sample(_ ms: UInt64, _ voterMs: UInt64, roundTripMs: UInt64 = 1) -> ClockAgreement.Sample {
        ClockAgreement.Sample(sentNs: ms * 1_000_000, receivedNs: (ms + roundTripMs) * 1_000_000, voterMs: voterMs)
    }

    func testAVoterAtTheLeadersRateIsTrustedOnceMeasured() {
        var c = ClockAgreement()
        XCTAssertNil(c.note("a", sample(1000, 50_000)), "one answer measures nothing")
        XCTAssertNil(c.note("a", sample(1600, 50_600)), "600 ms is too short a span")
        XCTAssertFalse(c.trusts(["a"]), "unknown until measured")
        let change = c.note("a", sample(2200, 51_200))
        XCTAssertEqual(change?.from, .unknown)
        guard case .agrees(let upTo)? = change?.to else { return XCTFail("\(String(describing: change))") }
        XCTAssertEqual(upTo, 1, accuracy: 0.01)
        XCTAssertTrue(c.trusts(["a"]))
        XCTAssertFalse(c.trusts(["a", "b"]), "a voter never measured is not trusted")
    }

    func testAFastClockEndsTheTrustAndAComebackRestoresIt() {
        var c = ClockAgreement()
        var leader: UInt64 = 0, voter: UInt64 = 0
        func step(_ rate: Double) -> (from: ClockAgreement.Verdict, to: ClockAgreement.Verdict)? {
            leader += 250
            voter += UInt64(250 * rate)
            return c.note("a", sample(leader, voter))
        }
        for _ in 0..<6 { _ = step(1) }
        XCTAssertTrue(c.trusts(["a"]))
        var turned: ClockAgreement.Verdict?
        for _ in 0..<3 { if let change = step(3) { turned = change.to } }
        guard case .disagrees(let upTo)? = turned else { return XCTFail("3x not seen within 750 ms: \(String(describing: turned))") }
        XCTAssertGreaterThan(upTo, 1.05)
        XCTAssertFalse(c.trusts(["a"]))
        // Back at the leader's rate: trusted again once the fast stretch has left the three-second window.
        for _ in 0..<16 { _ = step(1) }
        XCTAssertTrue(c.trusts(["a"]))
        for _ in 0..<16 { _ = step(0.5) }
        XCTAssertTrue(c.trusts(["a"]), "a slow clock keeps its promises longer than promised: safe")
        for _ in 0..<16 { _ = step(1.03) }
        XCTAssertTrue(c.trusts(["a"]), "3% fast is within the bound")
        for _ in 0..<16 { _ = step(1.2) }
        XCTAssertFalse(c.trusts(["a"]), "20% fast is not")
    }

    func testSlowAnswersWidenTheBoundInsteadOfMisleadingIt() {
        var c = ClockAgreement()
        // A voter at exactly the leader's rate, answering after 300 ms once (a loaded machine): the bound
        // uses the leader time that surely passed between the readings, so it can only err high, never low.
        _ = c.note("a", sample(0, 10_000, roundTripMs: 300))
        _ = c.note("a", sample(1500, 11_500))
        guard case .disagrees(let upTo) = c.verdicts["a"] ?? .unknown else { return XCTFail("\(String(describing: c.verdicts["a"]))") }
        XCTAssertEqual(upTo, 1500.0 / 1200, accuracy: 0.01)
        _ = c.note("a", sample(1800, 11_800))
        _ = c.note("a", sample(2600, 12_600))
        XCTAssertTrue(c.trusts(["a"]), "a quick pair a second apart proves it again")
    }

    func testAnswersNotedOutOfOrderStillMeasure() {
        var c = ClockAgreement()
        // Concurrent rounds finish in any order: a reading noted after a later one is no restart.
        _ = c.note("a", sample(0, 10_000))
        _ = c.note("a", sample(600, 10_600))
        _ = c.note("a", sample(500, 10_500))
        _ = c.note("a", sample(1300, 11_300))
        XCTAssertTrue(c.trusts(["a"]))
    }

    func testAnswersEveryMillisecondStillMeasure() {
        // Without a lease every read batch runs a round: answers a millisecond apart for three seconds.
        var c = ClockAgreement()
        for ms in UInt64(0)..<3000 { _ = c.note("a", sample(ms, 10_000 + ms)) }
        XCTAssertTrue(c.trusts(["a"]))
    }

    func testAClockThatWentBackStartsAfresh() {
        var c = ClockAgreement()
        _ = c.note("a", sample(0, 10_000))
        _ = c.note("a", sample(1100, 11_100))
        XCTAssertTrue(c.trusts(["a"]))
        _ = c.note("a", sample(1400, 5))  // the voter restarted: its monotonic clock began again
        XCTAssertFalse(c.trusts(["a"]))
    }
}
