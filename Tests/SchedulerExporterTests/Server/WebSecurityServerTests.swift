import Foundation
import Logging
import NIOCore
import Testing
@testable import SchedulerExporter

/// The real curl CLI against the real NIO server on 127.0.0.1, with openssl-made certificates and
/// bcrypt hashes from Python's crypt module.
@Suite(.serialized) struct WebSecurityServerTests {
    let logger = Logger(label: "test")

    @Test func basicAuthOverPlainHTTPWithHeadersOnEveryResponse() async throws {
        let dir = try ScratchDirectory()
        let hash = try await pythonBcrypt("s3cret")
        let config = try dir.write("web.yml", """
            http_server_config:
              headers: {X-Content-Type-Options: nosniff, X-Frame-Options: deny}
            basic_auth_users:
              alice: \(hash)
            """)
        let server = try await GuardedServer(webConfig: config)
        defer { Task { await server.stop() } }

        let missing = try await curl(server.httpURL, in: dir)
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"] == "Basic")
        #expect(missing.headers["x-content-type-options"] == "nosniff")
        #expect(missing.headers["x-frame-options"] == "deny")
        #expect(!missing.body.contains("hello"))

        #expect(try await curl(server.httpURL, ["-u", "alice:wrong"], in: dir).status == 401)
        #expect(try await curl(server.httpURL, ["-u", "mallory:s3cret"], in: dir).status == 401, "right password, unknown user")
        #expect(try await curl(server.httpURL, ["-u", "alic:s3cret"], in: dir).status == 401)
        #expect(try await curl(server.httpURL, ["-H", "Authorization: Bearer s3cret"], in: dir).status == 401)
        #expect(server.rejections.unauthorized == 5)
        #expect(server.web.verifiedCredentials.count == 0, "failures are not cached")

        let good = try await curl(server.httpURL, ["-u", "alice:s3cret"], in: dir)
        #expect(good.status == 200)
        #expect(good.body == "hello\n")
        #expect(good.headers["x-content-type-options"] == "nosniff")
        #expect(server.web.verifiedCredentials.count == 1)
        // Served from the cache now; several requests on one keep-alive connection.
        let again = try await curl(server.httpURL, ["-u", "alice:s3cret", server.httpURL.replacingOccurrences(of: "metrics", with: "healthz")], in: dir)
        #expect(again.status == 200)
        #expect(server.web.verifiedCredentials.count == 1)
        #expect(server.rejections.unauthorized == 5)
        #expect(server.rejections.tls == 0)

        // The exporter's own /metrics reports the same counts.
        let page = MetricsPage(store: SnapshotStore(targetOrder: []), rejections: server.rejections)
        let body = String(buffer: page.render(format: .prometheusText).own)
        #expect(body.contains("# TYPE kube_scheduler_exporter_http_requests_rejected_total counter\n"))
        #expect(body.contains("kube_scheduler_exporter_http_requests_rejected_total{reason=\"unauthorized\"} 5\n"))
        #expect(body.contains("kube_scheduler_exporter_http_requests_rejected_total{reason=\"tls\"} 0\n"))
    }

    @Test func requireAndVerifyClientCertTakesOnlyTheCAsClients() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let config = try dir.write("web.yml", """
            tls_server_config:
              cert_file: \(pki.file("server.crt"))
              key_file: \(pki.file("server.key"))
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: \(pki.file("ca.crt"))
            http_server_config:
              headers: {Strict-Transport-Security: max-age=31536000}
            """)
        let server = try await GuardedServer(webConfig: config)
        defer { Task { await server.stop() } }
        let trust = ["--cacert", pki.file("ca.crt")]

        let good = try await curl(server.httpsURL, trust + ["--cert", pki.file("client.crt"), "--key", pki.file("client.key")], in: dir)
        #expect(good.status == 200, "\(good.output)")
        #expect(good.headers["strict-transport-security"] == "max-age=31536000")
        #expect(server.rejections.tls == 0)

        let noCert = try await curl(server.httpsURL, trust, in: dir)
        #expect(noCert.status == 0 && noCert.exitCode != 0, "\(noCert.output)")
        let rogue = try await curl(server.httpsURL, trust + ["--cert", pki.file("rogue-client.crt"), "--key", pki.file("rogue-client.key")], in: dir)
        #expect(rogue.status == 0 && rogue.exitCode != 0, "\(rogue.output)")
        let plain = try await curl(server.httpURL, in: dir)
        #expect(plain.status != 200)
        try await waitUntil { server.rejections.tls == 3 }
        #expect(server.rejections.unauthorized == 0)

        // The client refusing the server (unknown CA) is a failed handshake too.
        let untrusting = try await curl(server.httpsURL, ["--cacert", pki.file("other-ca.crt")], in: dir)
        #expect(untrusting.exitCode == 60, "\(untrusting.output)")
        try await waitUntil { server.rejections.tls == 4 }
    }

    @Test func clientAuthTypesRequestRequireAndVerifyIfGiven() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let trust = ["--cacert", pki.file("ca.crt")]
        let ours = ["--cert", pki.file("client.crt"), "--key", pki.file("client.key")]
        let rogue = ["--cert", pki.file("rogue-client.crt"), "--key", pki.file("rogue-client.key")]
        // (client_auth_type, [no cert, our CA's cert, another CA's cert] -> served)
        let cases: [(String, [Bool])] = [
            ("NoClientCert", [true, true, true]),
            ("RequestClientCert", [true, true, true]),
            ("RequireAnyClientCert", [false, true, true]),
            ("VerifyClientCertIfGiven", [true, true, false]),
            ("RequireAndVerifyClientCert", [false, true, false]),
        ]
        for (type, expected) in cases {
            let config = try dir.write("web-\(type).yml", """
                tls_server_config:
                  cert_file: \(pki.file("server.crt"))
                  key_file: \(pki.file("server.key"))
                  client_auth_type: \(type)
                \(WebConfig.ClientAuth(rawValue: type)!.verifiesCertificates ? "  client_ca_file: \(pki.file("ca.crt"))" : "")
                """)
            let server = try await GuardedServer(webConfig: config)
            for (options, served) in zip([[], ours, rogue], expected) {
                let result = try await curl(server.httpsURL, trust + options, in: dir)
                #expect((result.status == 200) == served, "\(type) with \(options.first.map { _ in options[1] } ?? "no cert"): \(result.output)")
            }
            try await waitUntil { server.rejections.tls == expected.filter { !$0 }.count }
            await server.stop()
        }
    }

    @Test func minVersionTLS13RefusesATLS12Client() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let config = try dir.write("web.yml", """
            tls_server_config: {cert_file: \(pki.file("server.crt")), key_file: \(pki.file("server.key")), min_version: TLS13}
            """)
        let server = try await GuardedServer(webConfig: config)
        defer { Task { await server.stop() } }
        let old = try await curl(server.httpsURL, ["--cacert", pki.file("ca.crt"), "--tls-max", "1.2"], in: dir)
        #expect(old.status == 0 && old.exitCode != 0)
        let current = try await curl(server.httpsURL, ["--cacert", pki.file("ca.crt")], in: dir)
        #expect(current.status == 200)
        try await waitUntil { server.rejections.tls == 1 }
    }

    @Test func reloadTakesANewPasswordAndCertificateAndKeepsTheOldConfigOnABadEdit() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let first = try await pythonBcrypt("first")
        let second = try await pythonBcrypt("second")
        func webConfig(cert: String, hash: String) -> String {
            """
            tls_server_config: {cert_file: \(pki.file("\(cert).crt")), key_file: \(pki.file("\(cert).key"))}
            basic_auth_users: {alice: "\(hash)"}
            """
        }
        let path = try dir.write("web.yml", webConfig(cert: "server", hash: first))
        let server = try await GuardedServer(webConfig: path)
        defer { Task { await server.stop() } }
        let trustFirst = ["--cacert", pki.file("ca.crt")]
        let trustSecond = ["--cacert", pki.file("other-ca.crt")]
        #expect(try await curl(server.httpsURL, trustFirst + ["-u", "alice:first"], in: dir).status == 200)
        #expect(!server.web.reloadIfChanged(logger: logger), "nothing changed")

        try dir.write("web.yml", webConfig(cert: "other-server", hash: second))
        #expect(server.web.reloadIfChanged(logger: logger))
        #expect(server.web.verifiedCredentials.count == 0, "a reload empties the cache")
        #expect(try await curl(server.httpsURL, trustSecond + ["-u", "alice:first"], in: dir).status == 401)
        #expect(try await curl(server.httpsURL, trustSecond + ["-u", "alice:second"], in: dir).status == 200)
        #expect(try await curl(server.httpsURL, trustFirst + ["-u", "alice:second"], in: dir).exitCode == 60, "new connections get the new certificate")

        for bad in ["basic_auth_users: {alice: plaintext}", "tls_server_config: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}",
                    "basic_auth_users: {alice: \"\(first)\"}" /* TLS off needs a restart */, "{{{"] {
            try dir.write("web.yml", bad)
            #expect(!server.web.reloadIfChanged(logger: logger), "\(bad)")
            #expect(try await curl(server.httpsURL, trustSecond + ["-u", "alice:second"], in: dir).status == 200, "still the old config after \(bad)")
        }
    }

    @Test func replacingOnlyTheCertificateFileIsNoticed() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let cert = try dir.write("tls.crt", try String(contentsOfFile: pki.file("server.crt"), encoding: .utf8))
        let key = try dir.write("tls.key", try String(contentsOfFile: pki.file("server.key"), encoding: .utf8))
        let path = try dir.write("web.yml", "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n")
        let server = try await GuardedServer(webConfig: path)
        defer { Task { await server.stop() } }
        #expect(try await curl(server.httpsURL, ["--cacert", pki.file("ca.crt")], in: dir).status == 200)
        // A renewed pair written by a cert manager: same names, new content and inode.
        try dir.write("tls.crt", try String(contentsOfFile: pki.file("other-server.crt"), encoding: .utf8))
        try dir.write("tls.key", try String(contentsOfFile: pki.file("other-server.key"), encoding: .utf8))
        _ = (cert, key)
        #expect(server.web.reloadIfChanged(logger: logger))
        #expect(try await curl(server.httpsURL, ["--cacert", pki.file("other-ca.crt")], in: dir).status == 200)
    }

    @Test func unusableTLSFilesFailAtStartWithoutQuotingTheKey() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let keyText = try String(contentsOfFile: pki.file("server.key"), encoding: .utf8)
        let cases: [(String, String)] = [
            ("tls_server_config: {cert_file: missing.crt, key_file: \(pki.file("server.key"))}", "cert_file: cannot read"),
            ("tls_server_config: {cert_file: \(pki.file("server.key")), key_file: \(pki.file("server.key"))}", "holds no PEM certificate"),
            ("tls_server_config: {cert_file: \(pki.file("server.crt")), key_file: \(pki.file("server.crt"))}", "holds no PEM private key"),
            ("tls_server_config: {cert_file: \(pki.file("server.crt")), key_file: \(pki.file("client.key"))}", "key_file does not match cert_file"),
        ]
        for (yaml, message) in cases {
            let path = try dir.write("web.yml", yaml)
            #expect {
                _ = try WebSecurity(path: path)
            } throws: { error in
                let text = (error as? ConfigError)?.message ?? ""
                return text.contains(message) && !text.contains("PRIVATE KEY") && !text.contains(keyText.split(separator: "\n")[1])
            }
        }
    }

    /// Counters move on the server's event loop after curl has already exited.
    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(25)) }
        #expect(condition())
    }
}
