import CurlHTTP
import Testing
import TestSupport

/// Bearer tokens and URL credentials never reach error texts or printed values.
@Suite struct SecretTests {
    @Test func tokenNeverAppearsInAnyErrorDescription() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let refusing = try RefusingPort()
        let client = CurlClient()
        defer { client.shutdown() }

        let secret = "tok-SECRET-\(Int.random(in: 100_000...999_999))"
        let token = BearerToken(secret)
        let trusted = TLSOptions(caFile: pki.caFile)
        let requests = [
            HTTPRequest(url: server.url("/ok"), bearerToken: token, tls: TLSOptions(caFile: pki.otherCAFile)),
            HTTPRequest(url: "https://127.0.0.1:\(refusing.port)/", bearerToken: token),
            HTTPRequest(url: server.url("/hang"), bearerToken: token, tls: trusted, timeout: .milliseconds(500)),
            HTTPRequest(url: server.url("/big?bytes=\(4 << 20)"), bearerToken: token, tls: trusted, maxBodyBytes: 1024),
            HTTPRequest(url: "https://exa mple.invalid/\(secret)x", bearerToken: token),
            HTTPRequest(url: server.url("/ok"), bearerToken: BearerToken(secret + "\r\nX-Injected: 1"), tls: trusted),
            HTTPRequest(url: server.url("/ok"), bearerToken: token, tls: TLSOptions(caFile: "/nonexistent/\(UInt8.max)")),
        ]
        var kinds: [HTTPClientError.Kind] = []
        for request in requests {
            guard let error = await expectFailure(client, request) else { continue }
            kinds.append(error.kind)
            #expect(!error.description.contains(secret))
            #expect(!error.message.contains(secret))
            #expect(!String(describing: error).contains(secret))
        }
        #expect(kinds.count == requests.count)
        #expect(!server.logLines.contains { $0.contains("X-Injected") })
    }

    @Test func tokenIsRedactedWhenPrinted() {
        let secret = "printed-secret-value"
        let request = HTTPRequest(url: "https://127.0.0.1/", bearerToken: BearerToken(secret))
        var dumped = ""
        dump(request, to: &dumped)
        for text in [String(describing: request.bearerToken!), "\(request)", String(reflecting: request), dumped] {
            #expect(!text.contains(secret))
        }
        #expect("\(BearerToken(secret))" == "<redacted>")
    }

    @Test func urlCredentialsStayOutOfErrors() async throws {
        let refusing = try RefusingPort()
        let client = CurlClient()
        defer { client.shutdown() }
        let error = await expectFailure(client, HTTPRequest(url: "https://admin:hunter2@127.0.0.1:\(refusing.port)/"))
        #expect(error?.kind == .connectRefused)
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("admin") == false)
    }
}
