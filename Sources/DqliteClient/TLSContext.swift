import CTLS

/// Certificates for mutual TLS, as go-dqlite's `app.WithTLS` uses them: every node and client presents a
/// certificate signed by the cluster's CA and checks the other side's against it. A self-signed certificate is
/// its own CA (dqlite-demo's `--cert`/`--key`), so `ca` defaults to `certificate`.
public struct TLSFiles: Sendable, Equatable {
    /// PEM certificate (chain) this side presents; nil for a client that has none (a node refuses it).
    public var certificate: String?
    public var key: String?
    /// PEM file of the CA certificates the other side's certificate must chain to.
    public var ca: String?
    /// The name a dialler checks in the server's certificate; nil: the first DNS name of `certificate`.
    public var serverName: String?

    public init(certificate: String? = nil, key: String? = nil, ca: String? = nil, serverName: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
        self.serverName = serverName
    }
}

public struct TLSError: Error, CustomStringConvertible {
    public let description: String
}

/// A loaded TLS configuration, shared by every connection that uses it.
// @unchecked: the C context is not changed after init, and OpenSSL's SSL_CTX may make sessions on any thread.
public final class TLSContext: @unchecked Sendable {
    package let raw: OpaquePointer  // for the node's listener and tunnels (DqliteNode)
    public let files: TLSFiles

    /// Loads the files; `log` hears each connection the TLS layer refused, and why (from any thread).
    public init(_ files: TLSFiles, log: (@Sendable (String) -> Void)? = nil) throws(TLSError) {
        guard let ca = files.ca ?? files.certificate else {
            throw TLSError(description: "TLS needs a CA file (or a self-signed certificate, its own CA)")
        }
        var error = [CChar](repeating: 0, count: 1024)
        guard let raw = dq_tls_context_new(files.certificate, files.key, ca, files.serverName, &error, error.count) else {
            throw TLSError(description: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        self.raw = raw
        self.files = files
        if let log {
            // Tunnels may outlive this object (they keep the C context), so the sink is never released: one
            // small object per context, and a process makes one context.
            let sink = Unmanaged.passRetained(LogSink(log)).toOpaque()
            dq_tls_context_set_log(raw, { user, line in
                Unmanaged<LogSink>.fromOpaque(user!).takeUnretainedValue().write(String(cString: line!))
            }, sink)
        }
    }

    deinit { dq_tls_context_release(raw) }

    /// The name this context checks in servers' certificates, if any.
    public var serverName: String? { dq_tls_context_server_name(raw).map { String(cString: $0) } }
}

private final class LogSink: Sendable {
    let write: @Sendable (String) -> Void
    init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }
}
