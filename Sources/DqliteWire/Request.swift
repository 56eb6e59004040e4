/// Request type codes (client → server).
public enum RequestType: UInt8, Sendable, CaseIterable {
    case leader = 0, client, heartbeat, open, prepare, exec, query, finalize, execSQL, querySQL, interrupt
    case connect, add, assign, remove, dump, cluster, transfer, describe, weight
}

/// Every request of protocol v1. Database and statement ids keep the width the wire gives them.
public enum Request: Sendable, Hashable {
    case leader
    case client(id: UInt64)
    /// Obsolete; servers answer it with a parse failure.
    case heartbeat(timestamp: UInt64)
    case open(name: String, flags: UInt64, vfs: String)
    /// `withTailOffset` selects schema 1: the SQL may hold several statements and the STMT reply says how many
    /// bytes the first one used.
    case prepare(db: UInt64, sql: String, withTailOffset: Bool)
    case exec(db: UInt32, statement: UInt32, parameters: [Value])
    case query(db: UInt32, statement: UInt32, parameters: [Value])
    case finalize(db: UInt32, statement: UInt32)
    case execSQL(db: UInt64, sql: String, parameters: [Value])
    case querySQL(db: UInt64, sql: String, parameters: [Value])
    case interrupt(db: UInt64)
    /// Node to node: turns the connection into a Raft connection.
    case connect(id: UInt64, address: String)
    case add(id: UInt64, address: String)
    /// `role` nil is the legacy PROMOTE (to voter); otherwise the raw wire role.
    case assign(id: UInt64, role: UInt64?)
    case remove(id: UInt64)
    case dump(name: String)
    case cluster(format: UInt64)
    case transfer(id: UInt64)
    case describe(format: UInt64)
    case weight(UInt64)

    public var type: RequestType {
        switch self {
        case .leader: .leader
        case .client: .client
        case .heartbeat: .heartbeat
        case .open: .open
        case .prepare: .prepare
        case .exec: .exec
        case .query: .query
        case .finalize: .finalize
        case .execSQL: .execSQL
        case .querySQL: .querySQL
        case .interrupt: .interrupt
        case .connect: .connect
        case .add: .add
        case .assign: .assign
        case .remove: .remove
        case .dump: .dump
        case .cluster: .cluster
        case .transfer: .transfer
        case .describe: .describe
        case .weight: .weight
        }
    }

    /// The header schema this request is sent with.
    public var schema: UInt8 {
        switch self {
        case .prepare(_, _, let withTail): withTail ? 1 : 0
        case .exec(_, _, let p), .query(_, _, let p), .execSQL(_, _, let p), .querySQL(_, _, let p):
            ParamsFormat.smallest(for: p.count).schema
        default: 0
        }
    }

    /// Roughly the encoded size, so that encoding allocates once.
    private var estimatedSize: Int {
        func size(_ params: [Value]) -> Int {
            params.reduce(16) { total, v in
                switch v {
                case .text(let t), .iso8601(let t): total + t.utf8.count + 17
                case .blob(let b): total + b.count + 17
                default: total + 9
                }
            }
        }
        switch self {
        case let .exec(_, _, p), let .query(_, _, p): return 32 + size(p)
        case let .execSQL(_, sql, p), let .querySQL(_, sql, p): return 32 + sql.utf8.count + size(p)
        case let .prepare(_, sql, _): return 32 + sql.utf8.count
        default: return 64
        }
    }

    /// The whole framed message: header and body.
    public func encoded() throws(WireError) -> [UInt8] {
        var m = MessageBuilder(type: type.rawValue, schema: schema, capacity: estimatedSize)
        try encodeBody(into: &m.writer)
        return try m.finish().bytes
    }

    private func encodeBody(into w: inout WireWriter) throws(WireError) {
        switch self {
        case .leader: w.uint64(0)
        case .client(let id): w.uint64(id)
        case .heartbeat(let ts): w.uint64(ts)
        case let .open(name, flags, vfs):
            w.text(name)
            w.uint64(flags)
            w.text(vfs)
        case let .prepare(db, sql, _):
            w.uint64(db)
            w.text(sql)
        case let .exec(db, stmt, params), let .query(db, stmt, params):
            w.uint32(db)
            w.uint32(stmt)
            try Params.encode(params, format: .smallest(for: params.count), into: &w)
        case let .finalize(db, stmt):
            w.uint32(db)
            w.uint32(stmt)
        case let .execSQL(db, sql, params), let .querySQL(db, sql, params):
            w.uint64(db)
            w.text(sql)
            try Params.encode(params, format: .smallest(for: params.count), into: &w)
        case .interrupt(let db): w.uint64(db)
        case let .connect(id, address), let .add(id, address):
            w.uint64(id)
            w.text(address)
        case let .assign(id, role):
            w.uint64(id)
            if let role { w.uint64(role) }
        case .remove(let id), .transfer(let id): w.uint64(id)
        case .dump(let name): w.text(name)
        case .cluster(let format), .describe(let format): w.uint64(format)
        case .weight(let weight): w.uint64(weight)
        }
    }

    /// Decodes a request body. Unknown types and schemas are typed errors; so is any byte left over.
    public static func decode(header: MessageHeader, body: [UInt8]) throws(WireError) -> Request {
        guard let type = RequestType(rawValue: header.type) else { throw .unknownMessageType(header.type) }
        let hasSchema1: Bool = switch type {
        case .prepare, .exec, .query, .execSQL, .querySQL: true
        default: false
        }
        guard header.schema == 0 || (header.schema == 1 && hasSchema1) else {
            throw .unsupportedSchema(type: header.type, schema: header.schema)
        }
        let format: ParamsFormat = header.schema == 1 ? .count32 : .count8
        var r = WireReader(body)
        let request: Request
        switch type {
        case .leader:
            _ = try r.uint64("leader unused")
            request = .leader
        case .client: request = .client(id: try r.uint64("client id"))
        case .heartbeat: request = .heartbeat(timestamp: try r.uint64("heartbeat timestamp"))
        case .open:
            let name = try r.text("open name")
            let flags = try r.uint64("open flags")
            request = .open(name: name, flags: flags, vfs: try r.text("open vfs"))
        case .prepare:
            let db = try r.uint64("prepare db")
            request = .prepare(db: db, sql: try r.text("prepare sql"), withTailOffset: header.schema == 1)
        case .exec, .query:
            let db = try r.uint32("db id")
            let stmt = try r.uint32("statement id")
            let params = try Params.decode(format: format, from: &r)
            request = type == .exec ? .exec(db: db, statement: stmt, parameters: params)
                : .query(db: db, statement: stmt, parameters: params)
        case .finalize:
            let db = try r.uint32("db id")
            request = .finalize(db: db, statement: try r.uint32("statement id"))
        case .execSQL, .querySQL:
            let db = try r.uint64("db id")
            let sql = try r.text("sql")
            let params = try Params.decode(format: format, from: &r)
            request = type == .execSQL ? .execSQL(db: db, sql: sql, parameters: params)
                : .querySQL(db: db, sql: sql, parameters: params)
        case .interrupt: request = .interrupt(db: try r.uint64("db id"))
        case .connect, .add:
            let id = try r.uint64("node id")
            let address = try r.text("node address")
            request = type == .connect ? .connect(id: id, address: address) : .add(id: id, address: address)
        case .assign:
            let id = try r.uint64("node id")
            request = .assign(id: id, role: r.isAtEnd ? nil : try r.uint64("role"))
        case .remove: request = .remove(id: try r.uint64("node id"))
        case .dump: request = .dump(name: try r.text("dump name"))
        case .cluster: request = .cluster(format: try r.uint64("cluster format"))
        case .transfer: request = .transfer(id: try r.uint64("node id"))
        case .describe: request = .describe(format: try r.uint64("describe format"))
        case .weight: request = .weight(try r.uint64("weight"))
        }
        try r.expectEnd()
        return request
    }
}
