import Foundation

/// Harness warnings that must not go unnoticed but do not stop the run.
enum FileHandleOutput {
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("dqlite-chaos: warning: \(message)\n".utf8))
    }
}
