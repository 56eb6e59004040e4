import ArgumentParser
import DqliteClient

/// The TLS flags every tool shares (node, shell, bench, demo, chaos bed). `--cert`/`--key` are go-dqlite's
/// dqlite-demo names: a self-signed certificate given alone is also the CA, as there.
public struct TLSOptions: ParsableArguments, Sendable {
    @Option(name: [.customLong("tls-cert"), .customLong("cert")], help: "PEM certificate this side presents (mutual TLS; plain TCP without).")
    public var certificate: String?

    @Option(name: [.customLong("tls-key"), .customLong("key")], help: "PEM private key of --tls-cert.")
    public var key: String?

    @Option(name: .customLong("tls-ca"), help: "PEM CA the other side's certificate must chain to (default: --tls-cert, self-signed).")
    public var ca: String?

    @Option(name: .customLong("tls-server-name"), help: "Name to check in servers' certificates (default: the first DNS name of --tls-cert).")
    public var serverName: String?

    public init() {}

    public func validate() throws {
        if (certificate == nil) != (key == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if serverName != nil && ca == nil && certificate == nil { throw ValidationError("--tls-server-name needs --tls-ca or --tls-cert") }
    }

    /// Whether any TLS flag was given.
    public var enabled: Bool { certificate != nil || ca != nil }

    public var files: TLSFiles { TLSFiles(certificate: certificate, key: key, ca: ca, serverName: serverName) }

    /// The loaded context, or nil for plain TCP; a file that cannot be used is a validation error.
    public func context(log: (@Sendable (String) -> Void)? = nil) throws -> TLSContext? {
        guard enabled else { return nil }
        do {
            return try TLSContext(files, log: log)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
