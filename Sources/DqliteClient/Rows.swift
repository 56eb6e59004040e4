import DqliteWire

/// A result streamed batch by batch: only the batch being read is held in memory. Iterate it, `collect()` it,
/// or `close()` it early (which interrupts the server's stream).
public struct Rows: AsyncSequence, Sendable {
    public typealias Element = [Value]

    public let columns: [String]
    let connection: Connection
    let cursor: UInt64
    let first: RowsBatch

    init(connection: Connection, cursor: UInt64, first: RowsBatch) {
        self.connection = connection
        self.cursor = cursor
        self.first = first
        columns = first.columns
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: [[Value]]
        var index = 0
        var finished: Bool
        let connection: Connection
        let cursor: UInt64

        public mutating func next() async throws -> [Value]? {
            while index >= buffer.count {
                if finished { return nil }
                buffer = []
                let batch = try await connection.nextBatch(cursor)
                buffer = batch.rows
                index = 0
                finished = batch.isLast
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: first.rows, finished: first.isLast, connection: connection, cursor: cursor)
    }

    /// Every remaining row.
    public func collect() async throws(DqliteError) -> [[Value]] {
        var all: [[Value]] = []
        var it = makeAsyncIterator()
        do {
            while let row = try await it.next() { all.append(row) }
        } catch let e as DqliteError {
            throw e
        } catch {
            throw .misuse("\(error)")
        }
        return all
    }

    /// Stops the stream early; the connection is then free for the next request.
    public func close() async throws(DqliteError) {
        try await connection.closeCursor(cursor)
    }
}

/// A prepared statement; it lives on its connection and is re-prepared there after a reconnect.
public struct Statement: Sendable {
    public let connection: Connection
    public let sql: String
    let token: Int
    public let parameterCount: Int

    @discardableResult
    public func exec(_ parameters: [Value] = []) async throws(DqliteError) -> ExecResult {
        try await connection.exec(self, parameters)
    }

    public func query(_ parameters: [Value] = []) async throws(DqliteError) -> Rows {
        try await connection.query(self, parameters)
    }

    public func finalize() async throws(DqliteError) {
        try await connection.finalize(self)
    }
}
