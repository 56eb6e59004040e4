import DqliteWire

/// How the shell prints a result.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// One line per row, values separated by `|` (as go-dqlite's shell prints them).
    case tabular
    /// A JSON array with one object per row, keys in column order.
    case json
}

enum ResultFormatter {
    static func format(columns: [String], rows: [[Value]], as format: OutputFormat) -> String {
        switch format {
        case .tabular:
            return rows.map { $0.map(tabular).joined(separator: "|") }.joined(separator: "\n")
        case .json:
            let objects = rows.map { row in
                "{" + zip(columns, row).map { "\(jsonString($0)):\(json($1))" }.joined(separator: ",") + "}"
            }
            return "[" + objects.joined(separator: ",") + "]"
        }
    }

    static func tabular(_ v: Value) -> String {
        switch v {
        case .null: "NULL"
        default: v.description
        }
    }

    static func json(_ v: Value) -> String {
        switch v {
        case .integer(let x), .unixTime(let x): String(x)
        case .float(let x): x.isFinite ? String(x) : jsonString(String(x))
        case .text(let s), .iso8601(let s): jsonString(s)
        case .blob: jsonString(v.description)
        case .null: "null"
        case .boolean(let b): b ? "true" : "false"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
