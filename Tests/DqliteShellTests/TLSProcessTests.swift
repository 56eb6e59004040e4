import XCTest
import DqliteClient
import LocalCluster

/// A 3-node `dqlite-node` cluster with mutual TLS (one CA, one certificate for the cluster, as go-dqlite's
/// app): our client, our shell and Debian's go-dqlite shell reach it with the certificate; clients without
/// one, with one from another CA, or without TLS are refused, and the node logs why.
final class TLSProcessTests: XCTestCase {
    private var shell: String { CommandRunner.productsDirectory + "/dqlite" }
    private var node: String { CommandRunner.productsDirectory + "/dqlite-node" }

    private func certificates(_ name: String) throws -> ClusterCertificates {
        let dir = NSTemporaryDirectory() + "tls-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return try ClusterCertificates.make(in: dir, name: name)
    }

    private func startCluster(_ certs: ClusterCertificates) async throws -> ProcessCluster {
        let cluster = try await ProcessCluster.start(nodes: 3, kind: .swiftNode(executable: node, arguments: certs.flags),
                                                     tls: try TLSContext(certs.files))
        addTeardownBlock { await cluster.stop() }
        return cluster
    }

    private func client(_ cluster: ProcessCluster, _ files: TLSFiles?) throws -> DqliteClient {
        var config = ClientConfig()
        config.tls = try files.map { try TLSContext($0) }
        // Short: a refused client fails at once, and the refusals are four of this file's cases.
        config.leaderTimeout = .milliseconds(800)
        config.retry.deadline = .milliseconds(800)
        return try DqliteClient(addresses: cluster.addresses, config: config)
    }

    func testATLSClusterServesOurClientOurShellAndGoDqlitesShell() async throws {
        let certs = try certificates("cluster")
        let cluster = try await startCluster(certs)
        let db = try await client(cluster, certs.files).open("demo")
        try await db.exec("CREATE TABLE t (n INTEGER)")
        for n in 1...50 { try await db.exec("INSERT INTO t VALUES (?)", [.integer(Int64(n))]) }

        let s = cluster.addresses.joined(separator: ",")
        var r = try await CommandRunner.run(shell, ["-s", s] + certs.flags + ["demo", "SELECT count(*), sum(n) FROM t"], timeout: .seconds(60))
        XCTAssertEqual(r.stdout, "50|1275\n", r.stderr)
        r = try await CommandRunner.run(shell, ["-s", s] + certs.flags + ["demo", ".cluster"], timeout: .seconds(60))
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3, r.stdout + r.stderr)
        // go-dqlite's shell: -c/-k, the certificate its own trust anchor (app.SimpleDialTLSConfig).
        r = try await CommandRunner.run("/usr/bin/dqlite", ["-s", s, "-c", certs.certificate, "-k", certs.key, "demo", "INSERT INTO t VALUES (51)"],
                                        timeout: .seconds(60))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        r = try await CommandRunner.run("/usr/bin/dqlite", ["-s", s, "-c", certs.certificate, "-k", certs.key, "demo", "SELECT max(n) FROM t"],
                                        timeout: .seconds(60))
        XCTAssertEqual(r.stdout, "51\n", r.stderr)
        for i in 0..<3 {
            let log = await cluster.log(i)
            XCTAssertFalse(log.contains("TLS: "), log)
        }
    }

    func testClientsWithoutACertificateFromAnotherCAOrWithoutTLSAreRefused() async throws {
        let certs = try certificates("cluster")
        let other = try certificates("other")
        let cluster = try await startCluster(certs)
        let leader = try await cluster.leaderIndex()

        /// What a client of `files` gets from the cluster (nil: it was served).
        func attempt(_ files: TLSFiles?) async throws -> String? {
            do {
                _ = try await client(cluster, files).cluster()
                return nil
            } catch {
                return "\(error)"
            }
        }
        // With TLS 1.3 a client finishes its side of the handshake before the server checks its certificate:
        // it hears the refusal as the server's alert ("certificate required") or, when the server's close
        // overtakes the alert, as a reset; the node's log says why either way (below).
        let noCertificate = try await attempt(TLSFiles(ca: certs.ca))
        XCTAssertTrue(noCertificate?.contains("TLS: ") == true, noCertificate ?? "served")
        let otherCA = try await attempt(other.files)
        XCTAssertTrue(otherCA?.contains("certificate verify failed") == true, otherCA ?? "served")
        let otherCertificateTrustingOurCA = try await attempt(TLSFiles(certificate: other.certificate, key: other.key, ca: certs.ca))
        XCTAssertNotNil(otherCertificateTrustingOurCA)
        let plain = try await attempt(nil)
        XCTAssertNotNil(plain)
        // The shell fails with the reason, and nothing was written.
        let r = try await CommandRunner.run(shell, ["-s", cluster.addresses.joined(separator: ","), "--tls-ca", certs.ca, "--timeout", "1",
                                                    "demo", "CREATE TABLE x (n)"], timeout: .seconds(60))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("TLS"), r.stderr)

        var all = ""
        for i in 0..<3 { all += await cluster.log(i) }
        let leaderLog = await cluster.log(leader)
        for reason in ["peer did not return a certificate", "certificate verify failed: unable to get local issuer certificate",
                       "alert unknown ca", "not TLS (a client without TLS?)"] {
            XCTAssertTrue(all.contains("TLS: refused a connection from 127.0.0.1:"), all)
            XCTAssertTrue(all.contains(reason), "no log line says '\(reason)'; node \(leader + 1)'s log: \(leaderLog)")
        }
        // The cluster still serves a client with the right certificate.
        let members = try await client(cluster, certs.files).cluster()
        XCTAssertEqual(members.count, 3)
    }

    func testAFileThatCannotBeUsedIsAClearErrorAtStart() async throws {
        let certs = try certificates("cluster")
        let other = try certificates("other")
        let dir = NSTemporaryDirectory() + "tls-node-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freeLoopbackPort()
        var r = try await CommandRunner.run(node, ["--id", "1", "--address", "127.0.0.1:\(port)", "--dir", dir,
                                                   "--tls-cert", certs.certificate, "--tls-key", other.key, "--tls-ca", certs.ca], timeout: .seconds(30))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("does not match the certificate"), r.stderr)
        r = try await CommandRunner.run(node, ["--id", "1", "--address", "127.0.0.1:\(port)", "--dir", dir,
                                               "--tls-cert", certs.certificate, "--tls-key", certs.key, "--tls-ca", dir + "/missing.crt"], timeout: .seconds(30))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("cannot load the CA"), r.stderr)
        r = try await CommandRunner.run(node, ["--id", "1", "--address", "127.0.0.1:\(port)", "--dir", dir, "--tls-cert", certs.certificate], timeout: .seconds(30))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--tls-cert and --tls-key go together"), r.stderr)
    }
}
