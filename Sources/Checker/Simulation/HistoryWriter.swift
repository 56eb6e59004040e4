// Writes history lines (HISTORY.md) into a byte buffer, handing it to `flush` in large chunks: the
// benchmark writes histories of hundreds of megabytes, and building a String per line would dominate.

public final class HistoryWriter {
    private var buffer: [UInt8] = []
    private let flush: ([UInt8]) -> Void
    private var time: Int64 = 0

    public init(flush: @escaping ([UInt8]) -> Void) {
        self.flush = flush
        buffer.reserveCapacity(1 << 20)
    }

    public func finish() {
        if !buffer.isEmpty { flush(buffer) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// The next event time: strictly increasing, a microsecond or so apart, in nanoseconds.
    public func tick(_ random: inout SeededRandom) -> Int64 {
        time += 500 + Int64(random.below(1000))
        return time
    }

    public func raw(_ s: String) { buffer.append(contentsOf: s.utf8) }

    public func int(_ v: Int64) {
        if v < 0 {
            buffer.append(UInt8(ascii: "-"))
            if v == Int64.min { raw("9223372036854775808"); return }
        }
        var x = v.magnitude
        if x == 0 { buffer.append(UInt8(ascii: "0")); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while x > 0 {
                d[n] = UInt8(ascii: "0") + UInt8(x % 10)
                x /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { buffer.append(d[i]) }
        }
    }

    /// `{"process":P,"type":"T","f":"F","value":` — the caller writes the value, then `end(time:key:)`.
    public func begin(process: Int64, type: String, f: String) {
        raw("{\"process\":")
        int(process)
        raw(",\"type\":\"\(type)\",\"f\":\"\(f)\",\"value\":")
    }

    public func end(time: Int64, key: Int64? = nil) {
        raw(",\"time\":")
        int(time)
        if let key { raw(",\"key\":"); int(key) }
        raw("}\n")
        if buffer.count >= 1 << 20 {
            flush(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public func list(_ items: [Int64]) {
        buffer.append(UInt8(ascii: "["))
        for (i, e) in items.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            int(e)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    public func line(_ s: String) {
        raw(s)
        raw("\n")
    }
}
