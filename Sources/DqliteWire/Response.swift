/// Response type codes (server → client).
public enum ResponseType: UInt8, Sendable, CaseIterable {
    case failure = 0, server, welcome, servers, db, statement, result, rows, empty, files, metadata
}

/// The end word of a ROWS batch.
public enum RowsMarker {
    /// More batches follow.
    public static let part: UInt64 = 0xEEEE_EEEE_EEEE_EEEE
    /// This was the last batch.
    public static let done: UInt64 = 0xFFFF_FFFF_FFFF_FFFF
}

/// One ROWS message: the column names (repeated in every batch), some rows, and whether more follow.
public struct RowsBatch: Sendable, Hashable {
    public var columns: [String]
    public var rows: [[Value]]
    public var isLast: Bool

    public init(columns: [String], rows: [[Value]], isLast: Bool) {
        self.columns = columns
        self.rows = rows
        self.isLast = isLast
    }
}

/// What a response decoder needs to know that the message itself does not say.
public struct ResponseContext: Sendable {
    /// The format the CLUSTER request asked for.
    public var clusterFormat: ClusterFormat
    /// Whether the connection used the legacy protocol (SERVER then carries only an address).
    public var legacy: Bool

    public init(clusterFormat: ClusterFormat = .v1, legacy: Bool = false) {
        self.clusterFormat = clusterFormat
        self.legacy = legacy
    }
}

/// Every response of protocol v1.
public enum Response: Sendable, Hashable {
    case failure(code: UInt64, message: String)
    /// The leader as this node knows it; id 0 and "" when it knows none. Legacy replies have id 0.
    case server(id: UInt64, address: String)
    case welcome(heartbeatTimeout: UInt64)
    case servers([NodeInfo])
    case db(id: UInt32)
    /// `tailOffset` is present in schema 1 replies (to PREPARE schema 1).
    case statement(db: UInt32, id: UInt32, parameterCount: UInt64, tailOffset: UInt64?)
    case result(lastInsertID: UInt64, rowsAffected: UInt64)
    case rows(RowsBatch)
    case empty
    case files([DumpFile])
    case metadata(failureDomain: UInt64, weight: UInt64)
    /// Node to node, our nodes only: a voter's answer to a leader's term probe (the obsolete HEARTBEAT put to
    /// a private use), sent as a METADATA body with a third word: its Raft term, how long (ms) it will still
    /// refuse votes, and its monotonic clock (ms), from which the leader measures the voter's clock rate
    /// against its own. A node that predates the clock sends plain METADATA (term and promise).
    case termProbe(term: UInt64, stickyMs: UInt64, clockMs: UInt64)

    public var type: ResponseType {
        switch self {
        case .failure: .failure
        case .server: .server
        case .welcome: .welcome
        case .servers: .servers
        case .db: .db
        case .statement: .statement
        case .result: .result
        case .rows: .rows
        case .empty: .empty
        case .files: .files
        case .metadata, .termProbe: .metadata
        }
    }

    public var schema: UInt8 {
        if case .statement(_, _, _, let tail) = self, tail != nil { return 1 }
        return 0
    }

    /// The whole framed message. `context` picks the SERVERS and SERVER layouts.
    public func encoded(context: ResponseContext = ResponseContext()) throws(WireError) -> [UInt8] {
        var m = MessageBuilder(type: type.rawValue, schema: schema, capacity: 64)
        try encodeBody(into: &m.writer, context: context)
        return try m.finish().bytes
    }

    private func encodeBody(into w: inout WireWriter, context: ResponseContext) throws(WireError) {
        switch self {
        case let .failure(code, message):
            w.uint64(code)
            w.text(message)
        case let .server(id, address):
            if !context.legacy { w.uint64(id) }
            w.text(address)
        case .welcome(let timeout): w.uint64(timeout)
        case .servers(let nodes):
            w.uint64(UInt64(nodes.count))
            for n in nodes {
                w.uint64(n.id)
                w.text(n.address)
                if context.clusterFormat == .v1 {
                    guard let role = n.role else { throw .unencodable("format 1 needs a role for node \(n.id)") }
                    w.uint64(role)
                }
            }
        case .db(let id):
            w.uint32(id)
            w.uint32(0)
        case let .statement(db, id, params, tail):
            w.uint32(db)
            w.uint32(id)
            w.uint64(params)
            if let tail { w.uint64(tail) }
        case let .result(rowid, changes):
            w.uint64(rowid)
            w.uint64(changes)
        case .rows(let batch):
            w.uint64(UInt64(batch.columns.count))
            for c in batch.columns { w.text(c) }
            for row in batch.rows {
                guard row.count == batch.columns.count else {
                    throw .unencodable("a row of \(row.count) values under \(batch.columns.count) columns")
                }
                RowTuple.encode(row, into: &w)
            }
            w.uint64(batch.isLast ? RowsMarker.done : RowsMarker.part)
        case .empty: w.uint64(0)
        case .files(let files):
            w.uint64(UInt64(files.count))
            for f in files {
                w.text(f.name)
                w.uint64(UInt64(f.content.count))
                let start = w.count
                w.raw(f.content)
                w.padTo8(from: start)
            }
        case let .metadata(domain, weight):
            w.uint64(domain)
            w.uint64(weight)
        case let .termProbe(term, sticky, clock):
            w.uint64(term)
            w.uint64(sticky)
            w.uint64(clock)
        }
    }

    /// Decodes a response body. Anything that is not exactly a v1 response is a typed error.
    public static func decode(header: MessageHeader, body: [UInt8], context: ResponseContext = ResponseContext()) throws(WireError) -> Response {
        guard let type = ResponseType(rawValue: header.type) else { throw .unknownMessageType(header.type) }
        guard header.schema == 0 || (header.schema == 1 && type == .statement) else {
            throw .unsupportedSchema(type: header.type, schema: header.schema)
        }
        var r = WireReader(body)
        let response: Response
        switch type {
        case .failure:
            let code = try r.uint64("failure code")
            response = .failure(code: code, message: try r.text("failure message"))
        case .server:
            let id = context.legacy ? 0 : try r.uint64("server id")
            response = .server(id: id, address: try r.text("server address"))
        case .welcome: response = .welcome(heartbeatTimeout: try r.uint64("heartbeat timeout"))
        case .servers:
            let n = try r.uint64("servers count")
            try r.checkCount(n, minSize: context.clusterFormat == .v1 ? 24 : 16, field: "servers count")
            var nodes: [NodeInfo] = []
            nodes.reserveCapacity(Int(n))
            for _ in 0..<n {
                let id = try r.uint64("node id")
                let address = try r.text("node address")
                let role = context.clusterFormat == .v1 ? try r.uint64("node role") : nil
                nodes.append(NodeInfo(id: id, address: address, rawRole: role))
            }
            response = .servers(nodes)
        case .db:
            let id = try r.uint32("db id")
            _ = try r.uint32("db padding")
            response = .db(id: id)
        case .statement:
            let db = try r.uint32("db id")
            let id = try r.uint32("statement id")
            let params = try r.uint64("parameter count")
            // The body's length says whether the schema 1 offset is there (servers differ in the header).
            let tail = r.isAtEnd ? nil : try r.uint64("tail offset")
            response = .statement(db: db, id: id, parameterCount: params, tailOffset: tail)
        case .result:
            let rowid = try r.uint64("last insert id")
            response = .result(lastInsertID: rowid, rowsAffected: try r.uint64("rows affected"))
        case .rows: response = .rows(try decodeRows(&r))
        case .empty:
            _ = try r.uint64("empty")
            response = .empty
        case .files:
            let n = try r.uint64("files count")
            try r.checkCount(n, minSize: 16, field: "files count")
            var files: [DumpFile] = []
            for _ in 0..<n {
                let name = try r.text("file name")
                let size = try r.uint64("file size")
                files.append(DumpFile(name: name, content: try r.rawPadded(length: size, field: "file content")))
            }
            response = .files(files)
        case .metadata:
            let domain = try r.uint64("failure domain")
            let weight = try r.uint64("weight")
            response = r.isAtEnd ? .metadata(failureDomain: domain, weight: weight)
                : .termProbe(term: domain, stickyMs: weight, clockMs: try r.uint64("clock"))
        }
        try r.expectEnd()
        return response
    }

    private static func decodeRows(_ r: inout WireReader) throws(WireError) -> RowsBatch {
        let n = try r.uint64("column count")
        try r.checkCount(n, minSize: 8, field: "column count")
        var columns: [String] = []
        columns.reserveCapacity(Int(n))
        for _ in 0..<n { columns.append(try r.text("column name")) }
        var rows: [[Value]] = []
        while true {
            let word = try r.peekUInt64("rows end marker")
            // A row header's first nibbles are type codes ≤ 11, so a first byte of 0xEE or 0xFF is a marker.
            let first = UInt8(truncatingIfNeeded: word)
            if first == 0xEE || first == 0xFF || n == 0 {
                _ = try r.uint64("rows end marker")
                switch word {
                case RowsMarker.done: return RowsBatch(columns: columns, rows: rows, isLast: true)
                case RowsMarker.part: return RowsBatch(columns: columns, rows: rows, isLast: false)
                default: throw .badRowsMarker(word)
                }
            }
            rows.append(try RowTuple.decode(columns: Int(n), from: &r))
        }
    }
}
