import CurlHTTP
import Testing
import TestSupport

/// Transfer behaviour (auth, redirects, limits, timeouts, reuse, concurrency) against real servers.
@Suite struct TransferTests {
    @Test func bearerTokenArrivesExactlyAsAuthorizationHeader() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let token = "eyJhbGciOiJSUzI1NiJ9.payload.sig-\(Int.random(in: 0...1_000_000))"
        let response = try await client.perform(HTTPRequest(
            url: server.url("/echo-auth"), bearerToken: BearerToken(token), tls: TLSOptions(caFile: pki.caFile)))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "Bearer \(token)")
        #expect(server.logLines.contains("AUTHORIZATION Bearer \(token)"))

        let anonymous = try await client.perform(HTTPRequest(url: server.url("/echo-auth"), tls: TLSOptions(caFile: pki.caFile)))
        #expect(anonymous.body.isEmpty)
    }

    @Test func redirectToAnotherHostIsReturnedNotFollowed() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let otherHost = try await TestServer.start(in: pki.directory, bind: "127.0.0.2", name: "other")
        defer { otherHost.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let location = otherHost.url("/echo-auth", scheme: "http")
        let response = try await client.perform(HTTPRequest(
            url: server.url("/redirect?to=\(location)"), bearerToken: BearerToken("redirect-secret"),
            tls: TLSOptions(caFile: pki.caFile)))
        #expect(response.status == 302)
        #expect(response.header("location") == location)
        // Not even a TCP connection reached the other host.
        #expect(otherHost.logLines.isEmpty)
        // The other server is alive and logging: a direct request shows up.
        _ = try await client.perform(HTTPRequest(url: location))
        #expect(otherHost.logLines.contains("AUTHORIZATION <none>"))
    }

    @Test(arguments: ["/big", "/big-chunked"])
    func bodyOverLimitAbortsWithoutBufferingIt(path: String) async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let served = 64 << 20
        let error = await expectFailure(client, HTTPRequest(
            url: server.url("\(path)?bytes=\(served)"), tls: TLSOptions(caFile: pki.caFile), maxBodyBytes: 1 << 20))
        #expect(error?.kind == .bodyTooLarge)
        // The server could not hand over the whole body: the client stopped reading and hung up.
        let outcome = await server.waitForLog { $0.hasPrefix("BIG_") }
        let sentBytes = outcome.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect(outcome?.hasPrefix("BIG_ABORTED") == true)
        #expect((sentBytes ?? served) < served)
    }

    /// A server that reset a kept-alive connection while it sat idle: the request never reached
    /// it and is answered on a new connection. On HTTP/1.1 libcurl retries this itself; the
    /// HTTP/2 case, where only the client's own retry helps, is in HTTP2Tests.
    @Test(arguments: ["http", "https"])
    func requestOnAConnectionResetWhileIdleIsRetriedOnANewOne(scheme: String) async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: scheme == "https" ? pki.serverCert : nil,
                                                key: scheme == "https" ? pki.serverKey : nil)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let request = HTTPRequest(url: server.url("/reset-when-reused", scheme: scheme), tls: TLSOptions(caFile: pki.caFile))

        let first = try await client.perform(request)
        #expect(first.newConnection)
        let second = try await client.perform(request)
        #expect(second.status == 200)
        #expect(String(decoding: second.body, as: UTF8.self) == "fresh")
        #expect(second.newConnection, "answered on a new connection")
        let lines = server.logLines
        #expect(lines.filter { $0 == "RESET" }.count == 1, "the kept-alive connection was reset: \(lines)")
        #expect(lines.filter { $0.hasPrefix("CONNECT") }.count == 2)
    }

    @Test func bodyExactlyAtLimitIsAccepted() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let response = try await client.perform(HTTPRequest(
            url: server.url("/big-chunked?bytes=300000", scheme: "http"), maxBodyBytes: 300_000))
        #expect(response.body.count == 300_000)
    }

    @Test func hangingServerTimesOut() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let error = await expectFailure(client, HTTPRequest(
            url: server.url("/hang"), tls: TLSOptions(caFile: pki.caFile), timeout: .milliseconds(1500)))
        #expect(error?.kind == .timeout)
        #expect(server.logLines.contains("REQUEST /hang"))
    }

    @Test func refusedConnection() async throws {
        let refusing = try RefusingPort()
        let client = CurlClient()
        defer { client.shutdown() }

        let error = await expectFailure(client, HTTPRequest(url: "https://127.0.0.1:\(refusing.port)/metrics"))
        #expect(error?.kind == .connectRefused)
        #expect(error?.message.contains("127.0.0.1:\(refusing.port)") == true)
    }

    @Test func connectThatNeverCompletesIsAConnectTimeout() async throws {
        let blackhole = try BlackholePort()
        let client = CurlClient()
        defer { client.shutdown() }

        let error = await expectFailure(client, HTTPRequest(
            url: "https://127.0.0.1:\(blackhole.port)/metrics", connectTimeout: .milliseconds(300), timeout: .seconds(30)))
        #expect(error?.kind == .connectTimeout)
        #expect(await client.probeTCP(host: "127.0.0.1", port: blackhole.port, timeout: .milliseconds(300)) == .timeout)
    }

    @Test func probeTCPTellsOpenFromRefused() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory)
        defer { server.stop() }
        let refusing = try RefusingPort()
        let client = CurlClient()
        defer { client.shutdown() }

        #expect(await client.probeTCP(host: "127.0.0.1", port: server.port, timeout: .seconds(5)) == .open)
        #expect(await client.probeTCP(host: "127.0.0.1", port: refusing.port, timeout: .seconds(5)) == .refused)
        // The probe only connects: the server sees a connection but no request.
        #expect(await server.waitForLog { $0.hasPrefix("CONNECT") } != nil)
        #expect(!server.logLines.contains { $0.hasPrefix("REQUEST") })
    }

    @Test func plainHTTP() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        let response = try await client.perform(HTTPRequest(url: server.url("/ok", scheme: "http")))
        #expect(response.status == 200)
        #expect(response.body == Array("hello".utf8))
        #expect(response.tlsVersion == nil)
        #expect(response.certificates.isEmpty)
        #expect(response.httpVersion == .http1_1)
    }

    @Test func gzipBodyIsDecodedWhenAccepted() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)

        let decoded = try await client.perform(HTTPRequest(url: server.url("/gzip"), tls: tls, acceptCompressed: true))
        #expect(decoded.header("content-encoding") == "gzip")
        #expect(String(decoding: decoded.body, as: UTF8.self) == String(repeating: "hello gzip world\n", count: 100))
        #expect(server.logLines.contains { $0.hasPrefix("ACCEPT_ENCODING") && $0.contains("gzip") })

        let raw = try await client.perform(HTTPRequest(url: server.url("/gzip"), tls: tls))
        #expect(Array(raw.body.prefix(2)) == [0x1f, 0x8b])
        #expect(server.logLines.contains("ACCEPT_ENCODING <none>"))
    }

    @Test func gzipBombIsCutAtTheDecodedLimit() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }

        // 64 MiB of zeros is about 64 KiB on the wire, far below the limit; decoded it is far above.
        let error = await expectFailure(client, HTTPRequest(
            url: server.url("/gzip-bomb?bytes=\(64 << 20)"), tls: TLSOptions(caFile: pki.caFile),
            maxBodyBytes: 1 << 20, acceptCompressed: true))
        #expect(error?.kind == .bodyTooLarge)
    }

    @Test func connectionIsReusedAndCertificatesComeWithTheNewOne() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let request = HTTPRequest(url: server.url("/ok"), tls: TLSOptions(caFile: pki.caFile))

        let first = try await client.perform(request)
        let second = try await client.perform(request)

        #expect(first.newConnection)
        #expect(!first.certificates.isEmpty)
        #expect(!second.newConnection)
        #expect(second.certificates.isEmpty)
        #expect(second.tlsVersion == "TLSv1.3")
        #expect(server.logLines.filter { $0.hasPrefix("CONNECT") }.count == 1)
        #expect(server.logLines.filter { $0.hasPrefix("REQUEST") }.count == 2)
    }

    @Test func connectionsToManyTargetsStayCachedBetweenPolls() async throws {
        let pki = try await TestPKI.make()
        var servers: [TestServer] = []
        defer { for server in servers { server.stop() } }
        for index in 0..<8 { servers.append(try await TestServer.start(in: pki.directory, name: "target\(index)")) }
        let client = CurlClient()
        defer { client.shutdown() }

        // Polls go one target at a time, so only one easy handle is ever in the multi handle;
        // libcurl's default cache (4 per added handle) would then keep just 4 connections.
        var newConnections: [[Bool]] = []
        for _ in 0..<3 {
            var round: [Bool] = []
            for server in servers {
                round.append(try await client.perform(HTTPRequest(url: server.url("/ok", scheme: "http"))).newConnection)
            }
            newConnections.append(round)
        }
        #expect(newConnections[0] == Array(repeating: true, count: 8))
        #expect(newConnections[1] == Array(repeating: false, count: 8))
        #expect(newConnections[2] == Array(repeating: false, count: 8))
    }

    @Test func hangingTransferDoesNotDelayAnother() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let hangURL = server.url("/hang")
        let okURL = server.url("/ok")

        let finishOrder = await withTaskGroup(of: String.self) { group in
            group.addTask {
                let outcome = await expectFailure(client, HTTPRequest(url: hangURL, tls: tls, timeout: .seconds(20)))
                return "hang:\(outcome?.kind.rawValue ?? "success")"
            }
            // Start the second request only once the first is surely stuck inside the server.
            _ = await server.waitForLog { $0 == "REQUEST /hang" }
            group.addTask {
                let response = try? await client.perform(HTTPRequest(url: okURL, tls: tls))
                return "ok:\(response?.status ?? 0)"
            }
            var order: [String] = []
            for await label in group {
                order.append(label)
                // The first to finish decides the order; the hanging one need not run out its limit.
                group.cancelAll()
            }
            return order
        }
        #expect(finishOrder == ["ok:200", "hang:cancelled"])
    }

    @Test func transferQueuedForAConnectionStillTimesOut() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        // One connection per host: the hanging request holds it and the second one has to queue.
        let client = CurlClient(maxConnectionsPerHost: 1)
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let hangURL = server.url("/hang")
        let okURL = server.url("/ok")

        let finishOrder = await withTaskGroup(of: String.self) { group in
            group.addTask {
                let outcome = await expectFailure(client, HTTPRequest(url: hangURL, tls: tls, timeout: .seconds(30)))
                return "hang:\(outcome?.kind.rawValue ?? "success")"
            }
            _ = await server.waitForLog { $0 == "REQUEST /hang" }
            group.addTask {
                let outcome = await expectFailure(client, HTTPRequest(url: okURL, tls: tls, timeout: .milliseconds(500)))
                return "queued:\(outcome?.kind.rawValue ?? "success")"
            }
            var order: [String] = []
            for await label in group {
                order.append(label)
                group.cancelAll()
            }
            return order
        }
        #expect(finishOrder == ["queued:timeout", "hang:cancelled"])
        #expect(!server.logLines.contains("REQUEST /ok"))
    }

    @Test func concurrentRequestsShareAtMostTheConfiguredConnections() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient(maxConnectionsPerHost: 3)
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let okURL = server.url("/ok")

        let statuses = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<60 {
                group.addTask { (try? await client.perform(HTTPRequest(url: okURL, tls: tls)))?.status ?? 0 }
            }
            var statuses: [Int] = []
            for await status in group { statuses.append(status) }
            return statuses
        }
        #expect(statuses == Array(repeating: 200, count: 60))
        let connections = server.logLines.filter { $0.hasPrefix("CONNECT") }.count
        #expect((1...3).contains(connections))
    }

    @Test func cancellingTheTaskRemovesTheTransfer() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory, cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let client = CurlClient()
        defer { client.shutdown() }
        let tls = TLSOptions(caFile: pki.caFile)
        let hangURL = server.url("/hang")
        let okURL = server.url("/ok")

        let hanging = Task { await expectFailure(client, HTTPRequest(url: hangURL, tls: tls, timeout: .seconds(60))) }
        _ = await server.waitForLog { $0 == "REQUEST /hang" }
        hanging.cancel()
        #expect(await hanging.value?.kind == .cancelled)

        let cancelledBeforeStart = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await expectFailure(client, HTTPRequest(url: okURL, tls: tls))
        }
        #expect(await cancelledBeforeStart.value?.kind == .cancelled)

        // The client keeps working after cancellations.
        #expect(try await client.perform(HTTPRequest(url: server.url("/ok"), tls: tls)).status == 200)
    }

    @Test func shutdownFailsRunningAndLaterRequests() async throws {
        let pki = try await TestPKI.make()
        let server = try await TestServer.start(in: pki.directory)
        defer { server.stop() }
        let client = CurlClient()
        let hangURL = server.url("/hang", scheme: "http")

        let hanging = Task { await expectFailure(client, HTTPRequest(url: hangURL, timeout: .seconds(60))) }
        _ = await server.waitForLog { $0 == "REQUEST /hang" }
        client.shutdown()
        client.shutdown()
        #expect(await hanging.value?.kind == .cancelled)
        let later = await expectFailure(client, HTTPRequest(url: server.url("/ok", scheme: "http")))
        #expect(later?.kind == .cancelled)
    }

    @Test(arguments: ["ftp://127.0.0.1/file", "file:///etc/passwd", "not a url", "https://"])
    func unsupportedOrMalformedURLs(url: String) async throws {
        let client = CurlClient()
        defer { client.shutdown() }
        let error = await expectFailure(client, HTTPRequest(url: url))
        #expect(error?.kind == .badURL)
    }
}
