#if canImport(Glibc)
import Glibc
#endif
import XCTest
import LocalCluster

/// dqlite-power-loss, mounted for real (root and /dev/fuse): what was synced survives a power loss, what was
/// not is gone (file bytes and sizes, and directory entries whose directory was not synced), a torn write
/// keeps a sector-aligned prefix, and a clean stop keeps everything.
final class PowerLossLayerTests: XCTestCase {
    private var program: String { CommandRunner.productsDirectory + "/dqlite-power-loss" }

    /// A mounted layer over a fresh backing dir; removed (and unmounted) when the test ends.
    private struct Layer {
        let root: String, backing: String, mount: String, report: String
        let process: Process
    }

    private func mount(_ extra: [String] = []) throws -> Layer {
        try XCTSkipUnless(geteuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0, "needs root and /dev/fuse")
        let root = NSTemporaryDirectory() + "power-loss-\(UUID().uuidString)"
        let layer = Layer(root: root, backing: root + "/backing", mount: root + "/mount", report: root + "/report", process: Process())
        try FileManager.default.createDirectory(atPath: layer.backing, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: layer.mount, withIntermediateDirectories: true)
        layer.process.executableURL = URL(fileURLWithPath: program)
        layer.process.arguments = ["--backing", layer.backing, "--mount", layer.mount, "--report", layer.report, "--seed", "7"] + extra
        try layer.process.run()
        addTeardownBlock {
            if layer.process.isRunning { kill(layer.process.processIdentifier, SIGKILL) }
            Mounts.detachAll(under: layer.mount)
            try? FileManager.default.removeItem(atPath: root)
        }
        let deadline = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "").contains(" \(layer.mount) fuse") {
            guard Date() < deadline, layer.process.isRunning else { throw XCTSkip("the layer did not mount") }
            usleep(10_000)
        }
        return layer
    }

    private func stop(_ layer: Layer, _ signal: Int32) {
        kill(layer.process.processIdentifier, signal)
        XCTAssertTrue(layer.process.waitForExit(), "the layer did not exit")
    }

    private func write(_ path: String, _ bytes: [UInt8], at offset: Int = 0, flags: Int32 = 0, sync: Bool = false) throws {
        let fd = open(path, O_WRONLY | O_CREAT | flags, 0o644)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        XCTAssertEqual(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }, bytes.count)
        if sync { XCTAssertEqual(fsync(fd), 0) }
    }

    private func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(fsync(fd), 0)
        close(fd)
    }

    private func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    func testAPowerLossKeepsWhatWasSyncedAndNothingElse() throws {
        let l = try mount()
        try write(l.mount + "/kept", [UInt8](repeating: 1, count: 5000), sync: true)
        try write(l.mount + "/dsync", [UInt8](repeating: 2, count: 700), flags: O_DSYNC)
        syncDirectory(l.mount)
        try write(l.mount + "/kept", [UInt8](repeating: 9, count: 100), at: 10)            // overwrite, not synced
        try write(l.mount + "/kept", [UInt8](repeating: 9, count: 3000), at: 5000)          // growth, not synced
        try write(l.mount + "/new", [UInt8](repeating: 3, count: 10), sync: true)            // its name never synced
        // renameat, not rename: this test process links the node's rename, which syncs the directory.
        XCTAssertEqual(renameat(AT_FDCWD, l.mount + "/dsync", AT_FDCWD, l.mount + "/renamed"), 0)  // nor this rename
        XCTAssertEqual(contents(l.mount + "/kept")?.count, 8000, "the node sees its writes before the loss")
        stop(l, SIGUSR1)

        XCTAssertEqual(contents(l.backing + "/kept"), [UInt8](repeating: 1, count: 5000))
        XCTAssertEqual(contents(l.backing + "/dsync"), [UInt8](repeating: 2, count: 700), "an O_DSYNC write is a synced write")
        XCTAssertFalse(FileManager.default.fileExists(atPath: l.backing + "/new"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: l.backing + "/renamed"))
        let report = try String(contentsOfFile: l.report, encoding: .utf8)
        XCTAssertTrue(report.contains("cut_bytes 3000"), report)
        XCTAssertTrue(report.contains("dir_ops 2"), report)
        XCTAssertFalse((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8))?.contains(l.mount) ?? true, "unmounted")
    }

    func testATornWriteKeepsASectorAlignedPrefix() throws {
        let l = try mount()
        try write(l.mount + "/f", [UInt8](repeating: 0, count: 12288), sync: true)
        syncDirectory(l.mount)
        // Page-aligned: the kernel passes it on as one write (an unaligned one arrives split at page edges,
        // and the newest write the disk saw is then its last piece).
        try write(l.mount + "/f", [UInt8](repeating: 7, count: 4096), at: 4096)
        stop(l, SIGUSR2)
        let bytes = try XCTUnwrap(contents(l.backing + "/f"))
        let kept = bytes.filter { $0 == 7 }.count
        XCTAssertEqual(bytes.count, 12288)
        XCTAssertTrue(kept > 0 && kept < 4096 && kept % 512 == 0, "kept \(kept)")
        XCTAssertEqual(Array(bytes[4096..<(4096 + kept)]), [UInt8](repeating: 7, count: kept), "a prefix, in place")
    }

    func testACleanStopKeepsEverythingAndWritebackKeepsOldChanges() throws {
        var l = try mount()
        try write(l.mount + "/unsynced", [1, 2, 3])
        stop(l, SIGTERM)
        XCTAssertEqual(contents(l.backing + "/unsynced"), [1, 2, 3])

        l = try mount(["--writeback-ms", "300"])
        try write(l.mount + "/old", [4, 5])
        usleep(600_000)
        try write(l.mount + "/young", [6])
        stop(l, SIGUSR1)
        XCTAssertEqual(contents(l.backing + "/old"), [4, 5], "older than the writeback window: flushed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: l.backing + "/young"))
    }
}
