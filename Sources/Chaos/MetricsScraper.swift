import Checker
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Scrapes every node's `/metrics` about once a second during a run and appends what it read to the run's
/// `metrics.jsonl` (one `MetricsSample` a line, times on the history's clock). A thread of its own with short
/// socket timeouts: a paused or partitioned node costs a timeout, never a stall of the workload's tasks.
public final class MetricsScraper: Sendable {
    private let start: ContinuousClock.Instant
    private let output: FileHandle
    /// Node number (1-based) → HOST:PORT of its metrics endpoint; changed as nodes join.
    private let targets = Mutex<[Int: String]>([:])
    private let stopping = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    init(path: String, start: ContinuousClock.Instant) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        self.start = start
    }

    func setTargets(_ t: [Int: String]) { targets.withLock { $0 = t } }

    func run() {
        let thread = Thread { [self] in
            while !stopping.withLock({ $0 }) {
                let round = ContinuousClock.now
                for (node, address) in targets.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
                    guard let text = Self.get(address, path: "/metrics", timeoutMs: 500) else { continue }
                    let sample = MetricsSample(time: Int64((ContinuousClock.now - start) / .nanoseconds(1)), node: node,
                                               values: MetricsSample.parse(exposition: text[...]))
                    if let line = try? JSONEncoder().encode(sample) { output.write(line + Data("\n".utf8)) }
                }
                let left = .seconds(1) - (ContinuousClock.now - round)
                if left > .zero { Thread.sleep(forTimeInterval: Double(left / .milliseconds(1)) / 1000) }
            }
            try? output.close()
            done.signal()
        }
        thread.start()
    }

    /// Stops after the round under way and closes the file.
    func stop() {
        stopping.withLock { $0 = true }
        done.wait()
    }

    /// The samples of a run's metrics.jsonl (none when it has no such file; a torn last line is skipped).
    public static func load(_ path: String) -> [MetricsSample] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(MetricsSample.self, from: $0) }
    }

    /// GET http://address/path with HTTP/1.0 (the server closes when done): the body, or nil on any failure
    /// or when `timeoutMs` passes (for connecting, and again for the reply).
    static func get(_ address: String, path: String, timeoutMs: Int32) -> String? {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else { return nil }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(address[..<colon]), &sin.sin_addr) == 1 else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 || errno == EINPROGRESS, wait(fd, POLLOUT, timeoutMs) else { return nil }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0, err == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(address)\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
        while true {
            let left = Int32((deadline - ContinuousClock.now) / .milliseconds(1))
            guard left > 0, wait(fd, POLLIN, left) else { return nil }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { break }
            if n < 0 { if errno == EAGAIN || errno == EINTR { continue } else { return nil } }
            reply += chunk[0..<n]
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.") && text.split(separator: " ", maxSplits: 2).dropFirst().first == "200",
              let body = text.range(of: "\r\n\r\n") else { return nil }
        return String(text[body.upperBound...])
    }

    private static func wait(_ fd: Int32, _ events: Int32, _ timeoutMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&p, 1, timeoutMs) > 0
    }
}
