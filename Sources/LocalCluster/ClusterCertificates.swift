import DqliteClient
import Foundation

/// A CA and one certificate it signed, for a cluster whose nodes and clients all present that certificate
/// (as go-dqlite's app does with one certificate for the whole cluster). Made with the openssl CLI, with
/// P-256 keys (fast to make), the DNS name "dqlite" (the name diallers check) and both TLS usages.
public struct ClusterCertificates: Sendable {
    public let ca: String
    public let certificate: String
    public let key: String

    /// The files as a node or a client takes them.
    public var files: TLSFiles { TLSFiles(certificate: certificate, key: key, ca: ca) }

    /// The same as command-line flags (`--tls-cert`, `--tls-key`, `--tls-ca`).
    public var flags: [String] { ["--tls-cert", certificate, "--tls-key", key, "--tls-ca", ca] }

    /// Makes `dir/NAME-ca.{crt,key}` and `dir/NAME.{crt,key}`.
    public static func make(in dir: String, name: String = "cluster") throws -> ClusterCertificates {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = dir + "/" + name
        let ext = base + ".ext"
        try "subjectAltName=DNS:dqlite,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n".write(toFile: ext, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + ec + ["-days", "3650", "-subj", "/CN=\(name) CA", "-keyout", base + "-ca.key", "-out", base + "-ca.crt"],
            ["req"] + ec + ["-subj", "/CN=dqlite", "-keyout", base + ".key", "-out", base + ".csr"],
            ["x509", "-req", "-in", base + ".csr", "-CA", base + "-ca.crt", "-CAkey", base + "-ca.key", "-CAcreateserial",
             "-days", "3650", "-extfile", ext, "-out", base + ".crt"],
        ]
        for step in steps {
            let r = try CommandRunner.runBlocking("/usr/bin/openssl", step, timeout: .seconds(30))
            guard r.status == 0 else { throw CertificateError(description: "openssl \(step.prefix(2).joined(separator: " ")) failed: \(r.stderr)") }
        }
        return ClusterCertificates(ca: base + "-ca.crt", certificate: base + ".crt", key: base + ".key")
    }
}

public struct CertificateError: Error, CustomStringConvertible {
    public let description: String
}
