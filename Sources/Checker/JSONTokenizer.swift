// A strict JSON tokenizer over the bytes of one line. Histories can hold millions of lines, so it allocates
// nothing per line: tokens go into a buffer the caller reuses, strings stay as byte ranges of the line, and
// integers are decoded on the spot. Containers record where they end so a reader can skip a value whole.

enum TokenKind: UInt8 {
    case objectStart, objectEnd, arrayStart, arrayEnd
    case string        // start..<end: the raw bytes between the quotes; `escaped` when they hold a backslash
    case integer       // `int` holds the value
    case number        // a number with a fraction or an exponent; never an integer in this format
    case trueValue, falseValue, null
}

struct Token {
    var kind: TokenKind
    var escaped = false
    var int: Int64 = 0
    var start: Int32 = 0       // byte offsets within the line
    var end: Int32 = 0
    var close: Int32 = 0       // for objectStart/arrayStart: index of the matching end token
}

struct JSONSyntaxError: Error {
    var column: Int            // 1-based byte column
    var message: String
}

struct JSONTokenizer {
    private(set) var tokens: [Token] = []
    private var openStack: [Int32] = []

    /// Tokenizes one complete JSON value (the whole line, surrounding whitespace allowed).
    mutating func tokenize(_ line: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) {
        tokens.removeAll(keepingCapacity: true)
        openStack.removeAll(keepingCapacity: true)
        guard let base = line.baseAddress, line.count > 0 else { throw JSONSyntaxError(column: 1, message: "empty line") }
        let n = line.count
        var i = 0
        // What the grammar allows next. `valueOrClose` follows '[' (a value or ']'), `keyOrClose` follows '{'.
        enum Expect { case value, valueOrClose, key, keyOrClose, colon, commaOrClose, end }
        var expect = Expect.value

        @inline(__always) func fail(_ at: Int, _ message: String) -> JSONSyntaxError {
            JSONSyntaxError(column: at + 1, message: message)
        }
        func describe(_ byte: UInt8) -> String {
            (byte >= 0x20 && byte < 0x7f) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        }

        while true {
            while i < n, base[i] == 0x20 || base[i] == 0x09 || base[i] == 0x0d || base[i] == 0x0a { i += 1 }
            if i == n {
                if expect == .end { return }
                throw fail(i, "line ends inside a JSON value")
            }
            let c = base[i]
            switch expect {
            case .end:
                throw fail(i, "unexpected \(describe(c)) after the JSON value")
            case .colon:
                guard c == UInt8(ascii: ":") else { throw fail(i, "expected ':' after an object key, found \(describe(c))") }
                i += 1
                expect = .value
                continue
            case .commaOrClose:
                let top = openStack.last!
                let inObject = tokens[Int(top)].kind == .objectStart
                if c == UInt8(ascii: ",") {
                    i += 1
                    expect = inObject ? .key : .value
                    continue
                }
                if c == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    closeContainer(at: i, object: inObject)
                    i += 1
                    expect = openStack.isEmpty ? .end : .commaOrClose
                    continue
                }
                throw fail(i, "expected ',' or '\(inObject ? "}" : "]")', found \(describe(c))")
            case .key, .keyOrClose:
                if c == UInt8(ascii: "}") && expect == .keyOrClose {
                    closeContainer(at: i, object: true)
                    i += 1
                    expect = openStack.isEmpty ? .end : .commaOrClose
                    continue
                }
                guard c == UInt8(ascii: "\"") else { throw fail(i, "expected an object key in double quotes, found \(describe(c))") }
                i = try scanString(base, n, from: i)
                expect = .colon
                continue
            case .value, .valueOrClose:
                if c == UInt8(ascii: "]") && expect == .valueOrClose {
                    closeContainer(at: i, object: false)
                    i += 1
                    expect = openStack.isEmpty ? .end : .commaOrClose
                    continue
                }
                switch c {
                case UInt8(ascii: "{"):
                    guard openStack.count < 64 else { throw fail(i, "JSON nested more than 64 deep") }
                    openStack.append(Int32(tokens.count))
                    tokens.append(Token(kind: .objectStart, start: Int32(i)))
                    i += 1
                    expect = .keyOrClose
                    continue
                case UInt8(ascii: "["):
                    guard openStack.count < 64 else { throw fail(i, "JSON nested more than 64 deep") }
                    openStack.append(Int32(tokens.count))
                    tokens.append(Token(kind: .arrayStart, start: Int32(i)))
                    i += 1
                    expect = .valueOrClose
                    continue
                case UInt8(ascii: "\""):
                    i = try scanString(base, n, from: i)
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    i = try scanNumber(base, n, from: i)
                case UInt8(ascii: "t"):
                    i = try scanLiteral(base, n, from: i, "true", .trueValue)
                case UInt8(ascii: "f"):
                    i = try scanLiteral(base, n, from: i, "false", .falseValue)
                case UInt8(ascii: "n"):
                    i = try scanLiteral(base, n, from: i, "null", .null)
                default:
                    throw fail(i, "expected a JSON value, found \(describe(c))")
                }
                expect = openStack.isEmpty ? .end : .commaOrClose
            }
        }
    }

    private mutating func closeContainer(at i: Int, object: Bool) {
        let open = openStack.removeLast()
        tokens[Int(open)].close = Int32(tokens.count)
        tokens.append(Token(kind: object ? .objectEnd : .arrayEnd, start: Int32(i), end: Int32(i + 1)))
    }

    private mutating func scanLiteral(_ base: UnsafePointer<UInt8>, _ n: Int, from start: Int,
                                      _ word: StaticString, _ kind: TokenKind) throws(JSONSyntaxError) -> Int {
        let len = word.utf8CodeUnitCount
        guard start + len <= n, (0..<len).allSatisfy({ base[start + $0] == word.utf8Start[$0] }) else {
            throw JSONSyntaxError(column: start + 1, message: "invalid literal (expected \(word))")
        }
        tokens.append(Token(kind: kind, start: Int32(start), end: Int32(start + len)))
        return start + len
    }

    private mutating func scanString(_ base: UnsafePointer<UInt8>, _ n: Int, from start: Int) throws(JSONSyntaxError) -> Int {
        var i = start + 1
        var escaped = false
        while i < n {
            let c = base[i]
            if c == UInt8(ascii: "\"") {
                tokens.append(Token(kind: .string, escaped: escaped, start: Int32(start + 1), end: Int32(i)))
                return i + 1
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < n else { break }
                switch base[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 6 <= n, (2..<6).allSatisfy({ isHexDigit(base[i + $0]) }) else {
                        throw JSONSyntaxError(column: i + 1, message: "invalid \\u escape in a string")
                    }
                    i += 6
                default:
                    throw JSONSyntaxError(column: i + 1, message: "invalid escape in a string")
                }
                continue
            }
            if c < 0x20 { throw JSONSyntaxError(column: i + 1, message: "control character in a string") }
            i += 1
        }
        throw JSONSyntaxError(column: start + 1, message: "unterminated string")
    }

    private mutating func scanNumber(_ base: UnsafePointer<UInt8>, _ n: Int, from start: Int) throws(JSONSyntaxError) -> Int {
        var i = start
        let negative = base[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < n, isDigit(base[i]) else { throw JSONSyntaxError(column: start + 1, message: "invalid number") }
        let digitsStart = i
        if base[i] == UInt8(ascii: "0") {
            i += 1
            if i < n, isDigit(base[i]) { throw JSONSyntaxError(column: start + 1, message: "number with a leading zero") }
        } else {
            while i < n, isDigit(base[i]) { i += 1 }
        }
        let digitsEnd = i
        var integral = true
        if i < n, base[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < n, isDigit(base[i]) else { throw JSONSyntaxError(column: start + 1, message: "invalid number") }
            while i < n, isDigit(base[i]) { i += 1 }
        }
        if i < n, base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < n, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, isDigit(base[i]) else { throw JSONSyntaxError(column: start + 1, message: "invalid number") }
            while i < n, isDigit(base[i]) { i += 1 }
        }
        var token = Token(kind: integral ? .integer : .number, start: Int32(start), end: Int32(i))
        if integral {
            // Accumulate negatively so that Int64.min fits; any overflow is an error, never a wrapped value.
            var value: Int64 = 0
            for d in digitsStart..<digitsEnd {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.subtractingReportingOverflow(Int64(base[d] &- UInt8(ascii: "0")))
                if o1 || o2 { throw JSONSyntaxError(column: start + 1, message: "integer out of the 64-bit range") }
                value = s
            }
            if !negative {
                if value == Int64.min { throw JSONSyntaxError(column: start + 1, message: "integer out of the 64-bit range") }
                value = -value
            }
            token.int = value
        }
        tokens.append(token)
        return i
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
@inline(__always) private func isHexDigit(_ c: UInt8) -> Bool {
    isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
}
