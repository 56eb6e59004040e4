import Foundation

/// A process's log file, opened for appending: created when missing, so a process started again (a node after
/// a kill, a filesystem daemon after a power loss) writes after what its earlier runs wrote.
public enum AppendedLog {
    public static func open(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        return handle
    }
}
