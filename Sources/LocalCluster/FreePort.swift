#if canImport(Glibc)
import Glibc
#endif

/// Picks a free TCP port on 127.0.0.1 by binding port 0 and reading what the kernel chose. Another process
/// could take it before it is used, so callers retry a start that fails on its address.
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LocalClusterError.system("socket", errno) }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw LocalClusterError.system("bind", errno) }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw LocalClusterError.system("getsockname", errno) }
    return UInt16(bigEndian: addr.sin_port)
}

public enum LocalClusterError: Error, CustomStringConvertible {
    case system(String, Int32)
    case missingExecutable(String)
    case notReady(String)

    public var description: String {
        switch self {
        case let .system(call, code): "\(call): \(String(cString: strerror(code)))"
        case .missingExecutable(let path): "\(path) not found: install Debian's go-dqlite package (harness/bootstrap.sh does)"
        case .notReady(let why): "cluster not ready: \(why)"
        }
    }
}
