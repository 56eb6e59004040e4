import XCTest
import CRaft

/// C-Raft 0.15's own test fixture (exported by Debian's libraft: in-memory disks and network, simulated time)
/// with servers whose FSMs keep nothing: applies succeed, a restored snapshot's buffer is freed.
struct PlainRaftFixture {
    let fixture = UnsafeMutablePointer<raft_fixture>.allocate(capacity: 1)
    let fsms: UnsafeMutablePointer<raft_fsm>
    let rafts: [UnsafeMutablePointer<raft>]

    init(servers n: Int = 3) throws {
        fsms = .allocate(capacity: n)
        memset(fixture, 0, MemoryLayout<raft_fixture>.size)
        guard raft_fixture_initialize(fixture) == 0 else { throw FixtureFailure("raft_fixture_initialize") }
        for i in 0..<n {
            fsms[i] = raft_fsm()
            fsms[i].version = 1
            fsms[i].apply = { _, _, result in result?.pointee = nil; return 0 }
            fsms[i].restore = { _, buffer in raft_free(buffer?.pointee.base); return 0 }
            guard raft_fixture_grow(fixture, fsms + i) == 0 else { throw FixtureFailure("raft_fixture_grow") }
        }
        let f = fixture
        rafts = (0..<n).map { raft_fixture_get(f, UInt32($0))! }
    }

    /// Every server's first entry: a configuration with all of them as voters (term 1).
    func bootstrap() throws {
        var configuration = raft_configuration()
        defer { raft_configuration_close(&configuration) }
        guard raft_fixture_configuration(fixture, UInt32(rafts.count), &configuration) == 0,
              raft_fixture_bootstrap(fixture, &configuration) == 0 else { throw FixtureFailure("bootstrap") }
    }

    /// raft_fixture_close, then the memory.
    func close() {
        raft_fixture_close(fixture)
        deallocate()
    }

    /// The memory only (when the fixture cannot be closed).
    func deallocate() {
        fixture.deallocate()
        fsms.deallocate()
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
