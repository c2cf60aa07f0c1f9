import CurlHTTP
import Foundation
import Testing

private let nghttpdPath = "/usr/sbin/nghttpd"

/// HTTP/2 via ALPN. Python's stdlib has no HTTP/2 server, so this runs only where nghttp2's
/// `nghttpd` is installed (Debian: nghttp2-server); the scheduler simulator covers HTTP/2 elsewhere.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: nghttpdPath), "needs nghttpd (apt: nghttp2-server)"))
struct HTTP2Tests {
    @Test func negotiatesHTTP2AndMultiplexesOnOneConnection() async throws {
        let pki = try await TestPKI.make()
        let docroot = pki.directory.file("www")
        try FileManager.default.createDirectory(atPath: docroot, withIntermediateDirectories: true)
        let body = String(repeating: "scheduler_pending_pods{queue=\"active\"} 0\n", count: 5_000)
        try body.write(toFile: docroot + "/metrics", atomically: true, encoding: .utf8)

        // nghttpd cannot report an ephemeral port: take a free one and hand it over.
        let port = try RefusingPort().port
        let server = Process()
        server.executableURL = URL(fileURLWithPath: nghttpdPath)
        server.arguments = ["-a", "127.0.0.1", "-d", docroot, String(port), pki.serverKey, pki.serverCert]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let client = CurlClient()
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let url = "https://127.0.0.1:\(port)/metrics"

        var first: HTTPResponse?
        for _ in 0..<100 where first == nil {
            first = try? await client.perform(HTTPRequest(url: url, tls: tls))
            if first == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let response = try #require(first)
        #expect(response.status == 200)
        #expect(response.httpVersion == .http2)
        #expect(response.tlsVersion == "TLSv1.3")
        #expect(response.body == Array(body.utf8))
        #expect(!response.certificates.isEmpty)

        let reused = await withTaskGroup(of: Bool?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    guard let response = try? await client.perform(HTTPRequest(url: url, tls: tls)),
                        response.httpVersion == .http2, response.body.count == body.utf8.count
                    else { return nil }
                    return !response.newConnection
                }
            }
            var results: [Bool?] = []
            for await result in group { results.append(result) }
            return results
        }
        // All twenty streams went over the one connection made above.
        #expect(reused == Array(repeating: true, count: 20))
    }
}
