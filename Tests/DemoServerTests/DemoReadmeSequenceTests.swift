import Foundation
import LocalCluster
import XCTest

/// go-dqlite's README sequence for dqlite-demo, with curl, against three of our dqlite-demo processes: a value
/// PUT through node 1's API is read through the others; after `kill -TERM` of node 1 (it hands leadership
/// and role over, then stops) the other APIs still read and write.
final class DemoReadmeSequenceTests: XCTestCase {
    private var demoBinary: String { CommandRunner.productsDirectory + "/dqlite-demo" }

    private func curl(_ args: [String]) async throws -> String {
        let r = try await CommandRunner.run("/usr/bin/curl", ["-s", "--max-time", "20"] + args, timeout: .seconds(30))
        return r.stdout
    }

    func testGoDqlitesReadmeSequenceWithCurlIncludingKillTermOfNodeOne() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dqlite-demo-\(UUID().uuidString)").path
        var demos: [Process] = []
        addTeardownBlock {
            for p in demos where p.isRunning { kill(p.processIdentifier, SIGKILL); _ = p.waitForExit(timeout: .seconds(10)) }
            try? FileManager.default.removeItem(atPath: dir)
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var apis: [String] = [], dbs: [String] = []
        for _ in 0..<3 {
            apis.append("127.0.0.1:\(try freeLoopbackPort())")
            dbs.append("127.0.0.1:\(try freeLoopbackPort())")
        }
        func start(_ i: Int) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: demoBinary)
            p.arguments = ["--api", apis[i], "--db", dbs[i], "--dir", dir] + (i > 0 ? ["--join", dbs[0]] : [])
            let log = dir + "/demo\(i + 1).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardError = p.standardOutput
            try p.run()
            demos.append(p)
        }
        func waitForAPI(_ i: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while try await curl(["-o", "/dev/null", "-w", "%{http_code}", "http://\(apis[i])/probe"]) != "404" {
                guard ContinuousClock.now < deadline else {
                    let log = (try? String(contentsOfFile: dir + "/demo\(i + 1).log", encoding: .utf8)) ?? ""
                    return XCTFail("node \(i + 1)'s API never answered:\n\(log.suffix(2000))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try start(0)
        try await waitForAPI(0)
        try start(1)
        try start(2)
        try await waitForAPI(1)
        try await waitForAPI(2)

        let put = try await curl(["-X", "PUT", "-d", "my-value", "http://\(apis[0])/my-key"])
        XCTAssertEqual(put, "done\n")
        for i in 0..<3 {
            let got = try await curl(["http://\(apis[i])/my-key"])
            XCTAssertEqual(got, "my-value\n", "node \(i + 1)")
        }

        kill(demos[0].processIdentifier, SIGTERM)
        XCTAssertTrue(demos[0].waitForExit(timeout: .seconds(20)), "node 1 did not stop on SIGTERM")
        XCTAssertEqual(demos[0].terminationStatus, 0)
        let afterKill = try await curl(["http://\(apis[1])/my-key"])
        XCTAssertEqual(afterKill, "my-value\n")
        let putAfter = try await curl(["-X", "PUT", "-d", "new-value", "http://\(apis[2])/my-key"])
        XCTAssertEqual(putAfter, "done\n")
        let readAfter = try await curl(["http://\(apis[1])/my-key"])
        XCTAssertEqual(readAfter, "new-value\n")
        let missing = try await curl(["-w", " %{http_code}", "http://\(apis[2])/no-such-key"])
        XCTAssertEqual(missing, "Error: no such key\n 404")
    }
}
