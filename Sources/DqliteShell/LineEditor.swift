import CEditLine
#if canImport(Glibc)
import Glibc
#endif

/// Lines typed at a terminal, with editing and history: libedit's readline (Debian's libedit), so the arrow
/// keys, Ctrl-A/E/K/W, Ctrl-R (search) and the up arrow through earlier lines work as in sqlite3. The history
/// is kept in a file between sessions (the last 1000 lines).
public final class LineEditor {
    private let historyFile: String?

    /// `historyFile`: nil keeps the history for this session only.
    public init(historyFile: String?) {
        self.historyFile = historyFile
        using_history()
        stifle_history(1000)
        if let historyFile { _ = read_history(historyFile) }
    }

    /// The next line, or nil at end of input (Ctrl-D).
    public func readLine(prompt: String) -> String? {
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        let line = String(cString: raw)
        if !line.trimmingSpaces.isEmpty {
            add_history(raw)
            if let historyFile { _ = write_history(historyFile) }
        }
        return line
    }

    /// `$DQLITE_HISTORY`, else `~/.dqlite_history` (nil without a home).
    public static var defaultHistoryFile: String? {
        if let path = getenv("DQLITE_HISTORY").map({ String(cString: $0) }), !path.isEmpty { return path }
        return getenv("HOME").map { String(cString: $0) + "/.dqlite_history" }
    }
}
