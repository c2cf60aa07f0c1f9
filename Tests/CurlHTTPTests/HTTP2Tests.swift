import CurlHTTP
import Foundation
import Testing
import TestSupport

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

        let (server, port) = try startNGHTTPD(docroot: docroot, pki: pki)
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let client = CurlClient()
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let url = "https://127.0.0.1:\(port)/metrics"

        let response = try await firstAnswer(client, HTTPRequest(url: url, tls: tls))
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

    /// Found by the soak: an HTTP/2 connection dropped while idle failed every request of the next
    /// poll, and libcurl retries such requests only on HTTP/1.1. They never reached the server, so
    /// they go again, once, on a new connection.
    @Test func requestsOnAConnectionResetWhileIdleAreRetriedOnANewOne() async throws {
        let pki = try await TestPKI.make()
        let docroot = pki.directory.file("www")
        try FileManager.default.createDirectory(atPath: docroot, withIntermediateDirectories: true)
        try "ok\n".write(toFile: docroot + "/healthz", atomically: true, encoding: .utf8)
        let (server, port) = try startNGHTTPD(docroot: docroot, pki: pki)
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let proxy = try await TestServer.startResetProxy(in: pki.directory, upstreamPort: port)
        defer { proxy.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let request = HTTPRequest(url: "https://127.0.0.1:\(proxy.port)/healthz", tls: TLSOptions(caFile: pki.caFile))

        let first = try await firstAnswer(client, request)
        #expect(first.httpVersion == .http2)
        try await Task.sleep(for: .milliseconds(1_500))  // idle past the proxy's 1 s
        let retried = await withTaskGroup(of: Result<HTTPResponse, HTTPClientError>.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    do throws(HTTPClientError) {
                        return .success(try await client.perform(request))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<HTTPResponse, HTTPClientError>] = []
            for await result in group { results.append(result) }
            return results
        }
        for result in retried {
            let response = try result.get()
            #expect(response.status == 200)
            #expect(response.body == Array("ok\n".utf8))
        }
        #expect(proxy.logLines.filter { $0 == "RESET" }.count == 1, "the idle connection was reset: \(proxy.logLines)")
    }
}

/// nghttpd on a free port; it cannot report an ephemeral one, so a free one is handed over.
private func startNGHTTPD(docroot: String, pki: TestPKI) throws -> (Process, Int) {
    let port = try RefusingPort().port
    let server = try spawnLongLived {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: nghttpdPath)
        server.arguments = ["-a", "127.0.0.1", "-d", docroot, String(port), pki.serverKey, pki.serverCert]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        return server
    }
    return (server, port)
}

/// The first answer once the server listens (it starts asynchronously; the bound is a safety net).
private func firstAnswer(_ client: CurlClient, _ request: HTTPRequest) async throws -> HTTPResponse {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        if let response = try? await client.perform(request) { return response }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await client.perform(request)
}
