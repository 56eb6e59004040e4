import XCTest
import CRaft
import CUV
import CSQLite
import CSeccomp

/// The system-library shims resolve, link and call into the Debian libraries the node will use.
final class SystemLibrariesTests: XCTestCase {
    func testSQLiteOpensAnInMemoryDatabase() {
        XCTAssertGreaterThanOrEqual(sqlite3_libversion_number(), 3_040_000)
        var db: OpaquePointer?
        XCTAssertEqual(sqlite3_open(":memory:", &db), SQLITE_OK)
        XCTAssertEqual(sqlite3_exec(db, "CREATE TABLE t (a); INSERT INTO t VALUES (1)", nil, nil, nil), SQLITE_OK)
        XCTAssertEqual(sqlite3_close(db), SQLITE_OK)
    }

    func testLibuvRunsALoop() {
        XCTAssertGreaterThanOrEqual(uv_version(), 0x012C00)  // 1.44
        var loop = uv_loop_t()
        XCTAssertEqual(uv_loop_init(&loop), 0)
        XCTAssertEqual(uv_run(&loop, UV_RUN_NOWAIT), 0)
        XCTAssertEqual(uv_loop_close(&loop), 0)
    }

    func testRaftIsVersionZeroFifteen() {
        XCTAssertEqual(String(cString: raft_strerror(RAFT_NOTLEADER)), "server is not the leader")
        let buf = raft_malloc(64)
        XCTAssertNotNil(buf)
        raft_free(buf)
    }

    func testSeccompKnowsTheDiskSyscalls() {
        for name in ["io_submit", "pwrite64", "fsync", "fdatasync"] {
            XCTAssertGreaterThanOrEqual(seccomp_syscall_resolve_name(name), 0, name)
        }
    }
}
