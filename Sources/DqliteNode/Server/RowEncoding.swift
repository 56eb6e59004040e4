import CSQLite
import DqliteWire

/// How C dqlite types result columns (reference/dqlite.md §1.4): by declared type for dates and booleans,
/// by stored value otherwise.
enum RowEncoding {
    static func row(_ stmt: OpaquePointer, _ connection: SQLiteConnection) -> [Value] {
        var values = connection.row(stmt)
        for i in values.indices {
            guard let decl = sqlite3_column_decltype(stmt, Int32(i)).map({ String(cString: $0).uppercased() }) else { continue }
            switch decl {
            case "DATETIME", "DATE", "TIMESTAMP":
                switch values[i] {
                case .integer(let x): values[i] = .unixTime(x)
                case .text(let s): values[i] = .iso8601(s)
                case .null: values[i] = .iso8601("")
                default: break
                }
            case "BOOLEAN":
                switch values[i] {
                case .integer(let x): values[i] = .boolean(x != 0)
                case .null: values[i] = .boolean(false)
                default: break
                }
            default: break
            }
        }
        return values
    }

    /// The bytes a row takes in a ROWS message.
    static func size(_ row: [Value]) -> Int {
        row.reduce(pad8((row.count + 1) / 2)) { total, v in
            switch v {
            case .text(let s), .iso8601(let s): total + pad8(s.utf8.count + 1)
            case .blob(let b): total + 8 + pad8(b.count)
            default: total + 8
            }
        }
    }

    /// Splits a result into ROWS batches of about one page, as C dqlite fills them; every batch repeats the
    /// column names, and only the last is marked done.
    static func batches(columns: [String], rows: [[Value]], pageSize: Int = 4096) -> [RowsBatch] {
        let header = 8 + columns.reduce(0) { $0 + pad8($1.utf8.count + 1) }
        var out: [RowsBatch] = []
        var current: [[Value]] = []
        var size = header
        for row in rows {
            if size >= pageSize && !current.isEmpty {
                out.append(RowsBatch(columns: columns, rows: current, isLast: false))
                current = []
                size = header
            }
            current.append(row)
            size += self.size(row)
        }
        out.append(RowsBatch(columns: columns, rows: current, isLast: true))
        return out
    }
}
