// Read access to the tokens of one line: compare keys without building Strings, decode the few strings we
// keep, skip whole values, and recover a value's raw text (kept verbatim for metadata and fault details).

struct JSONLine {
    let bytes: UnsafeBufferPointer<UInt8>
    let tokens: [Token]

    /// Index of the token after the value that starts at `index` (skipping a whole container).
    @inline(__always) func after(_ index: Int) -> Int {
        let t = tokens[index]
        return (t.kind == .objectStart || t.kind == .arrayStart) ? Int(t.close) + 1 : index + 1
    }

    /// Whether the string token at `index` is exactly `ascii` (decoding escapes only when present).
    func stringEquals(_ index: Int, _ ascii: StaticString) -> Bool {
        let t = tokens[index]
        guard t.kind == .string else { return false }
        if t.escaped { return (try? string(index)) == ascii.description }
        let len = Int(t.end - t.start)
        guard len == ascii.utf8CodeUnitCount else { return false }
        let p = ascii.utf8Start
        for k in 0..<len where bytes[Int(t.start) + k] != p[k] { return false }
        return true
    }

    /// The decoded string of a string token; invalid UTF-8 or a lone surrogate is an error, not a replacement.
    func string(_ index: Int) throws(JSONSyntaxError) -> String {
        let t = tokens[index]
        let raw = UnsafeBufferPointer(rebasing: bytes[Int(t.start)..<Int(t.end)])
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(raw, i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u"),
                          case let low = hex4(raw, i + 2), (0xDC00..<0xE000).contains(low) else {
                        throw JSONSyntaxError(column: Int(t.start) + 1, message: "unpaired surrogate in a string")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw JSONSyntaxError(column: Int(t.start) + 1, message: "unpaired surrogate in a string")
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default: out.append(e)          // \" \\ \/
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw JSONSyntaxError(column: Int(t.start) + 1, message: "string is not valid UTF-8")
        }
        return s
    }

    /// The value's text exactly as written in the line.
    func rawText(_ index: Int) -> String {
        let first = tokens[index]
        let last = tokens[after(index) - 1]
        // A string token's range excludes its quotes; widen it back.
        let start = Int(first.start) - (first.kind == .string ? 1 : 0)
        let end = Int(last.end) + (last.kind == .string ? 1 : 0)
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// A short description of a value for error messages ("a string", "1.5", "an object").
    func describe(_ index: Int) -> String {
        switch tokens[index].kind {
        case .objectStart: return "an object"
        case .arrayStart: return "a list"
        case .string: return "the string \(rawText(index))"
        case .null: return "null"
        default: return rawText(index)
        }
    }
}

private func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
    var v: UInt32 = 0
    for k in 0..<4 {
        let c = raw[i + k]
        let d: UInt8 = c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10
        v = v << 4 | UInt32(d)
    }
    return v
}
