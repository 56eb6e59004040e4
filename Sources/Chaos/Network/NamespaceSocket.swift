import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sockets created inside a node's network namespace from the harness process: the calling thread enters the
/// namespace (setns affects that thread only), makes the socket, and returns to its own namespace. The socket
/// stays in the namespace it was made in. Synchronous, with no suspension point, so no other work can run on
/// this thread while it is inside.
enum NamespaceSocket {
    /// glibc's setns(2): declared only under _GNU_SOURCE, which Swift's Glibc module does not see, so it is
    /// looked up by name once.
    private static let setnsFunction: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setns") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()
    private static let cloneNewNet: Int32 = 0x4000_0000

    private static func setns(_ fd: Int32, _ type: Int32) -> Int32 {
        guard let f = setnsFunction else { errno = ENOSYS; return -1 }
        return f(fd, type)
    }

    /// An open fd of the namespace (`/run/netns/NAME`), kept for the run so later sockets need no lookup.
    static func open(_ name: String) throws -> Int32 {
        let fd = Glibc.open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ChaosError.harness("cannot open namespace \(name): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// A TCP socket (non-blocking, close-on-exec) made inside namespace `nsFD`.
    static func tcp(in nsFD: Int32) throws -> Int32 {
        let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw ChaosError.harness("cannot open this thread's namespace: \(String(cString: strerror(errno)))") }
        defer { close(home) }
        guard setns(nsFD, cloneNewNet) == 0 else { throw ChaosError.harness("setns: \(String(cString: strerror(errno)))") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let err = errno
        // Returning home cannot fail for a namespace we came from; if it did, this thread would make every
        // later socket in the wrong place, so stop.
        guard setns(home, cloneNewNet) == 0 else { fatalError("setns back to the harness namespace failed: \(String(cString: strerror(errno)))") }
        guard fd >= 0 else { throw ChaosError.harness("socket: \(String(cString: strerror(err)))") }
        return fd
    }

    static func sockaddr(_ ip: String, _ port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr(ip)
        return a
    }

    static func bindListen(_ fd: Int32, _ ip: String, _ port: Int) throws {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr(ip, port)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 64) == 0 else { throw ChaosError.harness("proxy listen on \(ip):\(port): \(String(cString: strerror(errno)))") }
    }

    /// Starts a non-blocking connect; true when it is done or in progress.
    static func connect(_ fd: Int32, _ ip: String, _ port: Int) -> Bool {
        var a = sockaddr(ip, port)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return rc == 0 || errno == EINPROGRESS
    }
}
