import Checker
import Foundation

/// Writes the run's history in the format of ../shared/HISTORY.md (JSON Lines), in the order events are
/// observed, with times in nanoseconds since the run started.
public actor HistoryWriter {
    private let handle: FileHandle
    private let start: ContinuousClock.Instant
    private var buffer: [UInt8] = []

    public init(path: String, metadata: [String: String], start: ContinuousClock.Instant) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { throw ChaosError.harness("cannot write \(path)") }
        handle = h
        self.start = start
        var meta = #"{"history":1"#
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { meta += ",\(Self.quote(k)):\(Self.quote(v))" }
        buffer += Array((meta + "}\n").utf8)
    }

    public func nanos() -> Int64 {
        let d = ContinuousClock.now - start
        return d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    }

    /// A client event; `value` is already JSON.
    public func client(process: Int, type: String, f: String, value: String, key: Int64? = nil, node: String? = nil, error: String? = nil) {
        var line = #"{"process":\#(process),"type":"\#(type)","f":"\#(f)","value":\#(value),"time":\#(nanos())"#
        if let key { line += #","key":\#(key)"# }
        if let node { line += #","node":\#(Self.quote(node))"# }
        if let error { line += #","error":\#(Self.quote(error))"# }
        append(line + "}\n")
    }

    /// A fault as applied (`start`) or healed (`stop`); `detail` is already JSON.
    public func nemesis(_ phase: String, fault: String, detail: String) {
        append(#"{"nemesis":"\#(phase)","fault":"\#(fault)","detail":\#(detail),"time":\#(nanos())}"# + "\n")
    }

    private func append(_ line: String) {
        buffer += Array(line.utf8)
        if buffer.count > 64 * 1024 { flush() }
    }

    public func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() {
        flush()
        try? handle.close()
    }

    static func quote(_ s: String) -> String { jsonQuoted(s) }
}

public enum ChaosError: Error, CustomStringConvertible {
    /// The bed itself failed (exit 2).
    case harness(String)
    /// The run cannot be made as asked (a fault the target cannot take, a bad template): exit 64.
    case refused(String)
    public var description: String {
        switch self { case .harness(let m), .refused(let m): m }
    }
}
