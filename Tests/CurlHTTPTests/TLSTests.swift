import CurlHTTP
import Foundation
import Testing

/// Real libcurl against a real Python TLS server on 127.0.0.1, with certificates made by openssl.
@Suite struct TLSTests {
    @Test func httpsWithCAVerificationReportsTLSFacts() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let response = try await client.perform(HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile)))

        #expect(response.status == 200)
        #expect(response.body == Array("hello".utf8))
        #expect(response.header("Content-Type") == "text/plain")
        #expect(response.httpVersion == .http1_1)
        #expect(response.tlsVersion == "TLSv1.3")
        #expect(response.primaryIP == "127.0.0.1")
        #expect(response.newConnection)
        let leaf = try #require(response.certificates.first)
        #expect(leaf.subject.contains("kube-scheduler"))
        #expect(leaf.issuer.contains("CurlHTTP Test CA"))
        #expect(!leaf.isSelfSigned)
        let expected = try await pki.validity(of: pki.serverCert)
        #expect(leaf.notBefore == expected.notBefore)
        #expect(leaf.notAfter == expected.notAfter)
    }

    /// POST (only for the Kubernetes API's review objects) with the CA given as bytes, as a
    /// kubeconfig's certificate-authority-data has it: the body arrives whole, NUL bytes and all,
    /// without an Expect round trip.
    @Test func postWithTheCAAsData() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let ca = try #require(FileManager.default.contents(atPath: pki.caFile))
        var request = HTTPRequest(url: server.url("/echo-post"), tls: TLSOptions())
        request.tls.caData = Array(ca)
        request.method = .post
        request.body = Array(#"{"kind":"TokenReview"}"#.utf8) + [0] + Array(repeating: UInt8(ascii: "x"), count: 5_000)
        request.headers = [("Content-Type", "application/json")]
        let response = try await client.perform(request)
        #expect(response.status == 200)
        #expect(response.body == request.body)
        _ = await server.waitForLog { $0.contains("POST_BODY_BYTES") }
        let log = (try? String(contentsOfFile: server.logFile, encoding: .utf8)) ?? ""
        #expect(log.contains("EXPECT <none>"), "\(log)")
        #expect(log.contains("CONTENT_TYPE application/json"))

        var empty = request
        empty.body = []
        #expect(try await client.perform(empty).body.isEmpty)

        var wrongCA = request
        wrongCA.tls.caData = Array(try #require(FileManager.default.contents(atPath: pki.otherCAFile)))
        let error = await expectFailure(client, wrongCA)
        #expect(error?.kind == .tlsVerify)
    }

    @Test func negotiatedTLSVersionIsReadFromTheConnection() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey, tls12Only: true)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let request = HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile), captureCertificates: false)

        let first = try await client.perform(request)
        let reused = try await client.perform(request)
        #expect(first.tlsVersion == "TLSv1.2")
        #expect(first.certificates.isEmpty)
        // Read from the live connection, so a reused one reports it too.
        #expect(!reused.newConnection)
        #expect(reused.tlsVersion == "TLSv1.2")
    }

    /// A server that accepts TLS 1.0-1.3 negotiates 1.3 with a client offering everything, so only
    /// a handshake offering nothing newer than 1.1 shows that it still accepts the old versions.
    @Test func legacyOnlyHandshakeSucceedsWhereTLS10IsAccepted() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey, acceptTLS10: true)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        var everything = TLSOptions(insecureSkipVerify: true)
        everything.allowLegacyVersions = true
        var everythingRequest = HTTPRequest(url: server.url("/ok"), tls: everything)
        everythingRequest.freshConnection = true
        #expect(try await client.perform(everythingRequest).tlsVersion == "TLSv1.3")

        var legacy = TLSOptions(insecureSkipVerify: true)
        legacy.legacyOnly = true
        var request = HTTPRequest(url: server.url("/ok"), tls: legacy, captureCertificates: false)
        request.freshConnection = true
        let response = try await client.perform(request)
        #expect(response.status == 200)
        #expect(response.tlsVersion == "TLSv1.1")
        #expect(response.httpVersion == .http1_1)
    }

    @Test func legacyOnlyHandshakeIsRefusedByAModernServer() async throws {
        let pki = try await TestPKI.make()
        // Python's default context refuses anything below TLS 1.2, as kube-scheduler does by default.
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        var legacy = TLSOptions(insecureSkipVerify: true)
        legacy.legacyOnly = true
        var request = HTTPRequest(url: server.url("/ok"), tls: legacy, captureCertificates: false)
        request.freshConnection = true
        let error = await expectFailure(client, request)
        #expect(error?.kind == .tlsHandshake)
        #expect(error?.message.contains("protocol version") == true, "the server's alert: \(error?.message ?? "")")
        #expect(await server.waitForLog { $0.hasPrefix("HANDSHAKE_FAILED") } != nil)
    }

    @Test func unrelatedCAFailsVerification() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let error = await expectFailure(client, HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.otherCAFile)))
        #expect(error?.kind == .tlsVerify)
        #expect(server.logLines.allSatisfy { !$0.hasPrefix("REQUEST") })
    }

    @Test func expiredCertificateFailsVerification() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.expiredCert, key: pki.expiredKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let error = await expectFailure(client, HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile)))
        #expect(error?.kind == .tlsVerify)
        #expect(error?.message.contains("expired") == true)
    }

    @Test func insecureSkipVerifyAcceptsUnverifiableServers() async throws {
        let pki = try await TestPKI.make()
        let expired = try await TestServer.start(in: pki.directory, cert: pki.expiredCert, key: pki.expiredKey)
        defer { expired.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let insecure = TLSOptions(caFile: pki.otherCAFile, insecureSkipVerify: true)
        let response = try await client.perform(HTTPRequest(url: expired.url("/ok"), tls: insecure))
        #expect(response.status == 200)
        // The chain is still reported, so the exporter can show the expiry it did not enforce.
        let leaf = try #require(response.certificates.first)
        #expect(try await pki.validity(of: pki.expiredCert).notAfter == leaf.notAfter)

        // Host name checks are off too: this name is not in the certificate.
        let wrongName = TLSOptions(insecureSkipVerify: true, serverName: "not-in-the-cert.test")
        let renamed = try await client.perform(HTTPRequest(url: expired.url("/ok"), tls: wrongName))
        #expect(renamed.status == 200)
    }

    @Test func serverNameOverrideVerifiesAgainstThatName() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let response = try await client.perform(HTTPRequest(
            url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile, serverName: "kube-scheduler.test")))
        #expect(response.status == 200)
        #expect(response.primaryIP == "127.0.0.1")
        #expect(server.logLines.contains("SNI kube-scheduler.test"))

        let error = await expectFailure(client, HTTPRequest(
            url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile, serverName: "other.test")))
        #expect(error?.kind == .tlsVerify)
        #expect(server.logLines.contains("SNI other.test"))
    }

    @Test func clientCertificateRequiredByServer() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey, clientCA: pki.caFile)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let anonymous = await expectFailure(client, HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile)))
        #expect(anonymous?.kind == .tlsHandshake)

        let withCert = TLSOptions(caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey)
        let response = try await client.perform(HTTPRequest(url: server.url("/ok"), tls: withCert))
        #expect(response.status == 200)
        #expect(server.logLines.contains("CLIENT_CERT exporter"))
    }
}
