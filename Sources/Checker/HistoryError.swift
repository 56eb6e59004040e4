/// A history that does not follow HISTORY.md: which line, and what was wrong. Nothing is guessed around it.
public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public var line: Int          // 1-based; 0 when the problem is not one line's
    public var message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}
