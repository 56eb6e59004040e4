#if canImport(Glibc)
import Glibc
#endif

/// Picks a free TCP port on 127.0.0.1, below the kernel's ephemeral range: a port the kernel hands out for
/// `bind(0)` may meanwhile become the source port of some outgoing connection (a node dialling its peers)
/// before the node meant to listen on it starts. A random port in 20000-32767 is checked by binding it.
public func freeLoopbackPort() throws -> UInt16 {
    for _ in 0..<1000 {
        let port = UInt16.random(in: 20000...32767)
        if try canBind(port) { return port }
    }
    throw LocalClusterError.system("no free port in 20000-32767", EADDRINUSE)
}

private func canBind(_ port: UInt16) throws -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LocalClusterError.system("socket", errno) }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
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
