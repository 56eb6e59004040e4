// Streams the lines of a file (or of bytes in memory) in large chunks, so a history of any size is parsed
// with memory bounded by its longest line, and without Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct FileError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

enum LineReader {
    /// Calls `body(lineNumber, bytes)` for every line (without its newline); `body` returns false to stop early.
    static func forEachLine<E: Error>(path: String,
                                      _ body: (Int, UnsafeBufferPointer<UInt8>) throws(E) -> Bool) throws -> Void {
        let fd = path == "-" ? 0 : open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { if fd != 0 { close(fd) } }

        var capacity = 4 << 20
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var filled = 0
        var lineNumber = 0
        var eof = false
        while !eof {
            if filled == capacity {             // one line longer than the buffer: grow it
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let n = read(fd, buffer + filled, capacity - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { eof = true } else { filled += n }
            var start = 0
            while start < filled {
                let rest = filled - start
                guard let nl = memchr(buffer + start, 0x0a, rest) else { break }
                let end = buffer.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                lineNumber += 1
                if try !body(lineNumber, UnsafeBufferPointer(start: buffer + start, count: end - start)) { return }
                start = end + 1
            }
            if eof && start < filled {           // last line without a newline
                lineNumber += 1
                _ = try body(lineNumber, UnsafeBufferPointer(start: buffer + start, count: filled - start))
                start = filled
            }
            if start > 0 {
                memmove(buffer, buffer + start, filled - start)     // regions may overlap
                filled -= start
            }
        }
    }

    static func forEachLine<E: Error>(bytes: [UInt8],
                                      _ body: (Int, UnsafeBufferPointer<UInt8>) throws(E) -> Bool) throws(E) {
        try bytes.withUnsafeBufferPointer { (all) throws(E) in
            var start = 0
            var lineNumber = 0
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0a { end += 1 }
                lineNumber += 1
                if try !body(lineNumber, UnsafeBufferPointer(rebasing: all[start..<end])) { return }
                start = end + 1
            }
        }
    }
}
