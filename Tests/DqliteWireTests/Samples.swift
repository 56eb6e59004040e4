import DqliteWire

/// One of every request and response, with values of every type, for round trips and fuzz seeds.
enum Samples {
    static let allValues: [Value] = [
        .integer(0), .integer(-1), .integer(.max), .integer(.min), .float(3.25), .float(-0.0), .float(.nan),
        .float(.infinity), .text(""), .text("1234567"), .text("12345678"), .text("héllo, 世界"), .blob([]),
        .blob([1, 2, 3]), .blob(Array(repeating: 0xAB, count: 16)), .null, .unixTime(1_700_000_000),
        .iso8601("2024-01-02 03:04:05.123456789+00:00"), .iso8601(""), .boolean(true), .boolean(false),
    ]

    static let requests: [Request] = [
        .leader, .client(id: 42), .heartbeat(timestamp: 7), .open(name: "demo", flags: 0, vfs: "volatile"),
        .prepare(db: 0, sql: "SELECT 1", withTailOffset: false),
        .prepare(db: 0, sql: "SELECT 1; SELECT 2", withTailOffset: true),
        .exec(db: 0, statement: 3, parameters: []), .exec(db: 0, statement: 3, parameters: allValues),
        .query(db: 0, statement: 9, parameters: [.integer(1)]),
        .query(db: 1, statement: 2, parameters: (0..<300).map { .integer(Int64($0)) }),
        .finalize(db: 0, statement: 3),
        .execSQL(db: 0, sql: "INSERT INTO t VALUES(?,?)", parameters: [.integer(42), .text("x")]),
        .execSQL(db: 0, sql: "CREATE TABLE t (a)", parameters: []),
        .querySQL(db: 0, sql: "SELECT * FROM t WHERE a = ?", parameters: allValues),
        .querySQL(db: 0, sql: "SELECT ?", parameters: (0..<256).map { _ in .null }),
        .interrupt(db: 0), .connect(id: 2, address: "127.0.0.1:9002"), .add(id: 4, address: "127.0.0.1:9004"),
        .assign(id: 4, role: NodeRole.standBy.rawValue), .assign(id: 4, role: nil), .remove(id: 4),
        .dump(name: "demo"), .cluster(format: 0), .cluster(format: 1), .transfer(id: 0), .transfer(id: 3),
        .describe(format: 0), .weight(5),
    ]

    static let nodes = [
        NodeInfo(id: 0x2dc1_7185_8c31_55be, address: "127.0.0.1:9001", role: .voter),
        NodeInfo(id: 2, address: "127.0.0.1:9002", role: .standBy),
        NodeInfo(id: 3, address: "[::1]:9003", role: .spare),
    ]

    /// Responses that decode with the default context (cluster format 1, protocol v1).
    static let responses: [Response] = [
        .failure(code: ErrorCode.notLeader, message: "not leader"), .failure(code: 0, message: ""),
        .server(id: 1, address: "127.0.0.1:9001"), .server(id: 0, address: ""), .welcome(heartbeatTimeout: 15000),
        .servers([]), .servers(nodes), .db(id: 0),
        .statement(db: 0, id: 1, parameterCount: 2, tailOffset: nil),
        .statement(db: 0, id: 1, parameterCount: 0, tailOffset: 8),
        .result(lastInsertID: 10, rowsAffected: 1),
        .rows(RowsBatch(columns: [], rows: [], isLast: true)),
        .rows(RowsBatch(columns: ["a"], rows: [], isLast: false)),
        .rows(RowsBatch(columns: ["n", "t"], rows: [[.integer(1), .text("a")], [.null, .blob([9])]], isLast: true)),
        .rows(RowsBatch(columns: allValues.indices.map { "c\($0)" }, rows: [allValues, allValues.reversed()], isLast: false)),
        .rows(RowsBatch(columns: ["x", "y", "z"], rows: [[.float(1.5), .boolean(true), .unixTime(5)]], isLast: true)),
        .empty,
        .files([DumpFile(name: "demo", content: Array(repeating: 7, count: 4096)), DumpFile(name: "demo-wal", content: [])]),
        .metadata(failureDomain: 3, weight: 9),
        .termProbe(term: 7, stickyMs: 450, clockMs: 123_456_789),
    ]
}
