import Foundation
import XCTest
@testable import DqliteNode

/// `SnapshotWriteback`: a temporary snapshot file's pages go to the disk while it is written, not only at
/// C-Raft's fsync; other files are left to the kernel.
final class SnapshotWritebackTests: XCTestCase {
    private static let size = 128 << 20

    /// Dirty and under-writeback page cache, system-wide (/proc/meminfo), in bytes.
    private func dirtyBytes() throws -> Int {
        let info = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        return info.split(separator: "\n").reduce(0) { total, line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[0] == "Dirty:" || fields[0] == "Writeback:", let kb = Int(fields[1]) else { return total }
            return total + kb * 1024
        }
    }

    /// Creates `path` as C-Raft does (open with O_CREAT | O_EXCL: FileManager would write a temporary file
    /// and rename it) and writes `size` bytes without syncing; the descriptor, for a later fsync.
    private func write(_ path: String) throws -> FileHandle {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0, "open \(path): errno \(errno)")
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let chunk = Data(repeating: 0x5A, count: 4 << 20)
        for _ in 0..<(Self.size / chunk.count) { try handle.write(contentsOf: chunk) }
        return handle
    }

    private func openDescriptors(to path: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path
        }.count
    }

    func testATemporarySnapshotFileIsWrittenBackAsItGrows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("writeback-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writeback = try XCTUnwrap(SnapshotWriteback(dir: dir))
        defer { writeback.stop() }

        // Control: a file it does not follow stays dirty (the kernel writes back after 30 s, or past its
        // dirty limits); where it does not, this test cannot tell the two apart.
        let before = try dirtyBytes()
        let plain = try write(dir + "/open-1")
        Thread.sleep(forTimeInterval: 0.5)
        let plainDirty = try dirtyBytes() - before
        try plain.synchronize()
        try plain.close()
        try XCTSkipIf(plainDirty < Self.size / 2, "the kernel wrote the control file back by itself (\(plainDirty >> 20) MiB dirty)")

        let baseline = try dirtyBytes()
        let path = dir + "/tmp-snapshot-1-100-5"
        let snapshot = try write(path)
        let deadline = Date().addingTimeInterval(5)
        var dirty = try dirtyBytes() - baseline
        while dirty > Self.size / 4 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            dirty = try dirtyBytes() - baseline
        }
        XCTAssertLessThanOrEqual(dirty, Self.size / 4, "the snapshot file's pages were written back before any fsync")
        XCTAssertEqual(try openDescriptors(to: path), 2, "ours and the thread's")

        // Renamed once synced (as C-Raft does): the thread lets go of it.
        try snapshot.synchronize()
        try snapshot.close()
        try FileManager.default.moveItem(atPath: path, toPath: dir + "/snapshot-1-100-5")
        let released = Date().addingTimeInterval(2)
        while try openDescriptors(to: dir + "/snapshot-1-100-5") > 0 && Date() < released { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(try openDescriptors(to: dir + "/snapshot-1-100-5"), 0)
    }
}
