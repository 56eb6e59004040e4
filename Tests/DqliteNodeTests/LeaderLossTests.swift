import XCTest
@testable import DqliteNode

/// The arithmetic of a voter whose leader's process is gone (`LeaderLoss`, used by `LeaderWatch`).
final class LeaderLossTests: XCTestCase {
    func testTheFirstVoterStandsAtOnceAndTheOthersOneStepApart() {
        // Timer started at 1000 with 1700 ms to run: it would fire at 2700.
        let at = { (rank: Int) in
            1000 + UInt64(LeaderLoss.electionTimeout(now: 1200, timerStart: 1000, current: 1700, promisedUntil: 0, rank: rank, stepMs: 200))
        }
        XCTAssertEqual(at(0), 1200)
        XCTAssertEqual(at(1), 1400)
        XCTAssertEqual(at(2), 1600)
    }

    func testAPromiseToRefuseVotesIsKept() {
        // Promised until 2100: nobody stands before then, even the first.
        let fire = 1000 + UInt64(LeaderLoss.electionTimeout(now: 1200, timerStart: 1000, current: 1700, promisedUntil: 2100, rank: 0, stepMs: 200))
        XCTAssertEqual(fire, 2100)
        let second = 1000 + UInt64(LeaderLoss.electionTimeout(now: 1200, timerStart: 1000, current: 1700, promisedUntil: 2100, rank: 1, stepMs: 200))
        XCTAssertEqual(second, 2300)
    }

    func testTheTimerIsNeverPutBack() {
        // Rank 5 would be 1200 + 1000 = 2200, later than the timer's own 1500: the timer's stays.
        XCTAssertEqual(LeaderLoss.electionTimeout(now: 1200, timerStart: 1000, current: 500, promisedUntil: 0, rank: 5, stepMs: 200), 500)
        // A promise past the timer's own end cannot be: the timer's end is what was promised. It stays too.
        XCTAssertEqual(LeaderLoss.electionTimeout(now: 1200, timerStart: 1000, current: 500, promisedUntil: 9000, rank: 0, stepMs: 200), 500)
    }

    func testRanksFollowIdsAmongTheVotersLeft() {
        XCTAssertEqual(LeaderLoss.rank(of: 2, voters: [3, 1, 2], leader: 1), 0)
        XCTAssertEqual(LeaderLoss.rank(of: 3, voters: [3, 1, 2], leader: 1), 1)
        XCTAssertEqual(LeaderLoss.rank(of: 1, voters: [3, 1, 2], leader: 2), 0)
        XCTAssertEqual(LeaderLoss.rank(of: 4, voters: [3, 1, 2], leader: 1), -1, "not a voter")
    }
}
