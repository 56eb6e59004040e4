import XCTest
import CSQLite
@testable import DqliteNode

final class ReplicatingVFSTests: XCTestCase {
    private func vfs(_ tag: String) throws -> ReplicatingVFS {
        let v = try ReplicatingVFS(name: "test-\(tag)-\(UInt32.random(in: 0...UInt32.max))")
        addTeardownBlock { XCTAssertEqual(v.sleeps, 0, "SQLite waited for a lock in \(tag)") }
        return v
    }

    /// Runs a write on the leader and applies it there, as a committed Raft entry would.
    private func commit(_ c: TestConnection, _ sql: String, also followers: [ReplicatingVFS] = []) throws {
        guard let pages = try c.write(sql) else { return XCTFail("\(sql) captured nothing") }
        try c.vfs.apply(database: c.name, pages)
        for f in followers { try f.apply(database: c.name, pages) }
    }

    func testConnectionsShareCommittedTransactions() throws {
        let v = try vfs("share")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db")
        try commit(a, "CREATE TABLE t (n INTEGER)")
        for n in 0..<3 { try commit(a, "INSERT INTO t VALUES (\(n))") }
        XCTAssertEqual(try b.int("SELECT count(*) FROM t"), 3)
        try commit(b, "INSERT INTO t VALUES (3)")
        XCTAssertEqual(try a.int("SELECT sum(n) FROM t"), 6)
        XCTAssertNil(v.poll(database: "db"), "reads capture nothing")
    }

    func testAPolledTransactionStaysHiddenAndHoldsTheWriteLock() throws {
        let v = try vfs("hide")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db")
        try commit(a, "CREATE TABLE t (n INTEGER)")
        let pending = try XCTUnwrap(try a.write("INSERT INTO t VALUES (1)"))
        XCTAssertEqual(try b.int("SELECT count(*) FROM t"), 0, "another connection does not see it")
        XCTAssertEqual(try a.int("SELECT count(*) FROM t"), 0, "nor does the writer itself")
        XCTAssertEqual(b.exec("INSERT INTO t VALUES (2)") & 0xFF, SQLITE_BUSY, "no second writer meanwhile")
        try v.apply(database: "db", pending)
        XCTAssertEqual(try b.int("SELECT count(*) FROM t"), 1)
        try commit(b, "INSERT INTO t VALUES (2)")
        XCTAssertEqual(try a.rows("SELECT n FROM t ORDER BY n"), [["1"], ["2"]])
    }

    /// A write run while speculating, as the leader runs a write that starts a transaction.
    private func speculativeWrite(_ c: TestConnection, _ sql: String) throws -> PolledTransaction? {
        c.vfs.beginSpeculation(database: c.name)
        defer { c.vfs.endSpeculation(database: c.name) }
        try c.run(sql)
        return c.vfs.pollTransaction(database: c.name)
    }

    func testPipelinedWritesBuildOnReplicatingOnesWhileReadersSeeOnlyCommits() throws {
        let v = try vfs("pipeline"), follower = try vfs("pipeline-follower")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db"), r = try TestConnection(v, "db")
        _ = try TestConnection(follower, "db")
        try commit(a, "CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)", also: [follower])
        let t1 = try XCTUnwrap(try speculativeWrite(a, "INSERT INTO t VALUES (1, 'one')"))
        // The second writer reads what the first wrote (not yet committed) and builds on it.
        let t2 = try XCTUnwrap(try speculativeWrite(b, "INSERT INTO t SELECT n + 1, s || '+' FROM t WHERE n = 1"))
        let t3 = try XCTUnwrap(try speculativeWrite(a, "UPDATE t SET s = 'two' WHERE n = 2"))
        XCTAssertEqual(try r.int("SELECT count(*) FROM t"), 0, "readers see committed data only")
        XCTAssertEqual(r.exec("INSERT INTO t VALUES (9, 'x')") & 0xFF, SQLITE_BUSY, "a writer that does not speculate waits")
        for (i, t) in [t1, t2, t3].enumerated() {
            try v.apply(database: "db", t.pages)
            try follower.apply(database: "db", t.pages)
            XCTAssertEqual(try r.int("SELECT count(*) FROM t"), min(i + 1, 2), "commit \(i + 1) is visible, no more")
        }
        XCTAssertEqual(try r.rows("SELECT n, s FROM t ORDER BY n"), [["1", "one"], ["2", "two"]])
        XCTAssertEqual(try TestConnection(follower, "db").rows("SELECT n, s FROM t ORDER BY n"), [["1", "one"], ["2", "two"]])
        XCTAssertEqual(try r.rows("PRAGMA integrity_check"), [["ok"]])

        // A failed transaction takes everything built on it along; the database goes on from the last commit.
        let t4 = try XCTUnwrap(try speculativeWrite(a, "INSERT INTO t VALUES (4, 'four')"))
        XCTAssertNotNil(try speculativeWrite(b, "UPDATE t SET s = 'FOUR' WHERE n = 4"))
        v.abort(database: "db", id: t4.id)
        XCTAssertEqual(try a.int("SELECT count(*) FROM t"), 2)
        try commit(r, "INSERT INTO t VALUES (5, 'five')")
        XCTAssertEqual(try b.rows("SELECT n FROM t ORDER BY n"), [["1"], ["2"], ["5"]])
        XCTAssertEqual(try b.rows("PRAGMA integrity_check"), [["ok"]])
    }

    func testAGroupOfTransactionsCommitsAsOneEntry() throws {
        let v = try vfs("group"), follower = try vfs("group-follower")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db"), r = try TestConnection(v, "db")
        _ = try TestConnection(follower, "db")
        try commit(a, "CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)", also: [follower])
        let t1 = try XCTUnwrap(try speculativeWrite(a, "INSERT INTO t VALUES (1, 'one')"))
        let t2 = try XCTUnwrap(try speculativeWrite(b, "UPDATE t SET s = 'ONE' WHERE n = 1"))
        let t3 = try XCTUnwrap(try speculativeWrite(a, "INSERT INTO t VALUES (2, 'two')"))
        v.group(database: "db", ids: [t1.id, t2.id], batch: 7)
        let merged = CommitBatcher.merge([t1.pages, t2.pages])
        XCTAssertEqual(Set(merged.pageNumbers).count, merged.pageNumbers.count, "each page once, its latest version")
        try v.apply(database: "db", merged)
        try follower.apply(database: "db", merged)
        XCTAssertEqual(try r.rows("SELECT n, s FROM t"), [["1", "ONE"]], "the whole group, and nothing after it")
        try v.apply(database: "db", t3.pages)
        try follower.apply(database: "db", t3.pages)
        let expected = [["1", "ONE"], ["2", "two"]]
        XCTAssertEqual(try r.rows("SELECT n, s FROM t ORDER BY n"), expected)
        XCTAssertEqual(try TestConnection(follower, "db").rows("SELECT n, s FROM t ORDER BY n"), expected)
        XCTAssertEqual(try r.rows("PRAGMA integrity_check"), [["ok"]])
    }

    func testAnInteractiveTransactionBuiltOnAReplicatingOneCommitsWhileThatOneIsStillInFlight() throws {
        let v = try vfs("interactive")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db"), r = try TestConnection(v, "db")
        try commit(a, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER)")
        let t1 = try XCTUnwrap(try speculativeWrite(a, "INSERT INTO t (k) VALUES (1)"))
        // b: BEGIN, then a first write that speculates (it builds on t1, touching the same pages), then COMMIT
        // while t1 still replicates. The lock holder's steps keep its view: SQLite must not take t1's frames,
        // beyond the committed header, for its own and rewrite them.
        try b.run("BEGIN")
        v.beginSpeculation(database: "db")
        try b.run("INSERT INTO t (k) VALUES (2)")
        v.endSpeculation(database: "db")
        XCTAssertEqual(try r.int("SELECT count(*) FROM t"), 0, "readers see neither")
        v.beginSpeculation(database: "db", holdsWriteLock: true)
        try b.run("INSERT INTO t (k) VALUES (3)")
        v.endSpeculation(database: "db")
        v.beginSpeculation(database: "db", holdsWriteLock: true)
        try b.run("COMMIT")
        v.endSpeculation(database: "db")
        let t2 = try XCTUnwrap(v.pollTransaction(database: "db"))
        try v.apply(database: "db", t1.pages)
        XCTAssertEqual(try r.rows("SELECT k FROM t ORDER BY id"), [["1"]])
        try v.apply(database: "db", t2.pages)
        XCTAssertEqual(try r.rows("SELECT k FROM t ORDER BY id"), [["1"], ["2"], ["3"]])
        XCTAssertEqual(try r.rows("PRAGMA integrity_check"), [["ok"]])
    }

    /// A write that changes no byte of a state that is still replicating writes no frame at all (SQLite skips
    /// identical cells), so there is nothing of its own to wait for: the write path must learn that it saw
    /// replicating transactions, and which one was last, to answer only once that one commits.
    func testAWriteThatChangesNothingOnAReplicatingStateWritesNoFrameButIsSeenToDependOnIt() throws {
        let v = try vfs("noop")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db")
        try commit(a, "CREATE TABLE r (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        try commit(a, "INSERT INTO r VALUES (1, 4)")
        let t1 = try XCTUnwrap(try speculativeWrite(a, "UPDATE r SET v = 1 WHERE k = 1"))
        XCTAssertTrue(v.beginSpeculation(database: "db"), "the next write sees t1")
        try b.run("INSERT INTO r (k, v) VALUES (1, 1) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
        v.endSpeculation(database: "db")
        XCTAssertNil(v.pollTransaction(database: "db"), "the same value again: no frame")
        XCTAssertEqual(v.lastReplicatingTransaction(database: "db"), t1.id, "what its answer rests on")
        v.abort(database: "db", id: t1.id)
        XCTAssertEqual(try b.int("SELECT v FROM r WHERE k = 1"), 4, "t1 failed: the value never was 1")
        XCTAssertNil(v.lastReplicatingTransaction(database: "db"))
        XCTAssertFalse(v.beginSpeculation(database: "db"), "nothing replicating any more")
        v.endSpeculation(database: "db")
    }

    func testAbortDropsTheTransactionAndFreesTheLock() throws {
        let v = try vfs("abort")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db")
        try commit(a, "CREATE TABLE t (n INTEGER)")
        XCTAssertNotNil(try a.write("INSERT INTO t VALUES (1)"))
        v.abort(database: "db")
        XCTAssertEqual(try a.int("SELECT count(*) FROM t"), 0)
        try commit(b, "INSERT INTO t VALUES (2)")
        XCTAssertEqual(try a.rows("SELECT n FROM t"), [["2"]])
        XCTAssertEqual(try a.rows("PRAGMA integrity_check"), [["ok"]])
    }

    func testFollowersApplyTheSamePagesAndEndByteIdentical() throws {
        let leader = try vfs("leader"), follower = try vfs("follower")
        let a = try TestConnection(leader, "db")
        let f = try TestConnection(follower, "db")  // creates the follower's copy, as dqlite's FSM does
        try commit(a, "CREATE TABLE t (k INTEGER PRIMARY KEY, r INTEGER, s TEXT)", also: [follower])
        for i in 0..<300 {
            // random() runs once, on the leader; followers get its pages, not the SQL.
            try commit(a, "INSERT INTO t (r, s) VALUES (random(), hex(randomblob(\(i % 50 + 1))))", also: [follower])
        }
        try commit(a, "UPDATE t SET r = r / 2 WHERE k % 3 = 0", also: [follower])
        try commit(a, "DELETE FROM t WHERE k % 7 = 0", also: [follower])
        let expected = try a.rows("SELECT k, r, s FROM t ORDER BY k")
        XCTAssertEqual(expected.count, 300 - 300 / 7)
        XCTAssertEqual(try f.rows("SELECT k, r, s FROM t ORDER BY k"), expected)
        XCTAssertEqual(try f.rows("PRAGMA integrity_check"), [["ok"]])

        // After a TRUNCATE checkpoint on each, the main files are the same bytes.
        XCTAssertEqual(try a.rows("PRAGMA wal_checkpoint(TRUNCATE)"), [["0", "0", "0"]])
        XCTAssertEqual(try f.rows("PRAGMA wal_checkpoint(TRUNCATE)"), [["0", "0", "0"]])
        let lp = try XCTUnwrap(leader.databases["db"]), fp = try XCTUnwrap(follower.databases["db"])
        XCTAssertEqual(lp.wal.frames.count, 0)
        XCTAssertGreaterThan(lp.pages.count, 5)
        XCTAssertEqual(lp.pages, fp.pages)
        // Writing goes on after the WAL restarted (a new header with new salts).
        try commit(a, "INSERT INTO t (r, s) VALUES (1, 'after')", also: [follower])
        XCTAssertEqual(try f.rows("SELECT s FROM t WHERE r = 1"), [["after"]])
    }

    func testLargeTransactionsThatSpillAndRollBack() throws {
        let v = try vfs("spill")
        let a = try TestConnection(v, "db"), b = try TestConnection(v, "db")
        try a.run("PRAGMA cache_size=10")  // force pages out of the cache mid-transaction
        try commit(a, "CREATE TABLE t (n INTEGER, pad TEXT)")
        try a.run("BEGIN")
        for i in 0..<2000 { try a.run("INSERT INTO t VALUES (\(i), '\(String(repeating: "x", count: 200))')") }
        XCTAssertNil(v.poll(database: "db"), "nothing to replicate before COMMIT, even with spilled frames")
        let big = try XCTUnwrap(try a.write("COMMIT"))
        XCTAssertGreaterThan(big.pageNumbers.count, 50)
        try v.apply(database: "db", big)
        try a.run("BEGIN")
        for i in 0..<2000 { try a.run("INSERT INTO t VALUES (\(-i), '\(String(repeating: "y", count: 200))')") }
        try a.run("ROLLBACK")
        XCTAssertNil(v.poll(database: "db"))
        XCTAssertEqual(v.databases["db"]?.wal.pending.count, 0, "the rolled-back frames are dropped")
        try commit(b, "INSERT INTO t VALUES (-1, 'z')")
        XCTAssertEqual(try a.int("SELECT count(*) FROM t"), 2001)
        XCTAssertEqual(try a.rows("PRAGMA integrity_check"), [["ok"]])
    }

    func testMalformedFramesAreRefused() throws {
        let v = try vfs("bad")
        _ = try TestConnection(v, "db")
        XCTAssertThrowsError(try v.apply(database: "db", CapturedPages(pageSize: 4096, pageNumbers: [1], pages: [1, 2, 3])))
        XCTAssertThrowsError(try v.apply(database: "db", CapturedPages(pageSize: 4096, pageNumbers: [0], pages: [UInt8](repeating: 0, count: 4096))))
        XCTAssertThrowsError(try v.apply(database: "nope", CapturedPages(pageSize: 4096, pageNumbers: [1], pages: [UInt8](repeating: 0, count: 4096))))
    }
}
