import Foundation
import Logging
import NIOCore
import TestSupport
import Testing
@testable import SchedulerExporter

/// The exporter's server against clients that do not play by the rules, over real sockets on
/// 127.0.0.1: every limit in `ServerLimits` holds, and a client that plays by the rules is served.
@Suite(.serialized) struct ServerLimitsTests {
    /// An in-process server answering "hello", and `/slow` only when the client gives up.
    final class LimitedServer: Sendable {
        let server: HTTPServer
        let channel: Channel
        let rejections = RequestRejections()
        let port: Int

        init(_ configure: (inout ServerLimits) -> Void = { _ in }, web: WebSecurity? = nil) async throws {
            var limits = ServerLimits()
            configure(&limits)
            server = HTTPServer(threads: 2, router: { request in
                guard request.path == "/slow" else { return .response(ServerResponse(text: "hello\n")) }
                return .deferred {
                    try? await Task.sleep(for: .seconds(600))
                    return ServerResponse(text: "slow\n")
                }
            }, web: web, rejections: rejections, limits: limits, logger: Logger(label: "test"))
            channel = try await server.start(host: "127.0.0.1", port: 0)
            port = channel.localAddress?.port ?? 0
        }

        func stop() async {
            try? await channel.close()
            try? await server.shutdown()
        }

        /// One request on a new connection: its status, nil when the connection closed first.
        func status(_ request: String, timeout: Double = 20) async throws -> Int? {
            let port = self.port
            return try await offCooperativePool {
                let connection = try RawConnection(port: port)
                connection.send(request)
                return connection.receiveResponse(timeout: timeout)?.status
            }
        }
    }

    static let get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test func aConnectionThatNeverSendsARequestIsClosed() async throws {
        let server = try await LimitedServer { $0.requestTimeout = .milliseconds(300) }
        defer { Task { await server.stop() } }
        let port = server.port
        let closed = try await offCooperativePool { () -> (silent: Bool, trickle: Bool) in
            let silent = try RawConnection(port: port)
            let trickling = try RawConnection(port: port)
            trickling.send("GET /metrics HTTP/1.1\r\n")
            // Slowloris: a header byte now and then, never the blank line.
            var trickleClosed = false
            let deadline = Date().addingTimeInterval(30)  // a safety net: the limit is 300 ms
            while !trickleClosed, Date() < deadline {
                trickling.send("X")
                trickleClosed = trickling.waitForClose(timeout: 0.1)
            }
            return (silent.waitForClose(timeout: 20), trickleClosed)
        }
        #expect(closed.silent, "a silent connection is closed after the request timeout")
        #expect(closed.trickle, "a trickled head is closed after the request timeout, however busy it looks")
        #expect(server.rejections.value(.timeout) == 2)
        #expect(try await server.status(Self.get) == 200, "a prompt client is served")
    }

    @Test func keptAliveConnectionsExpireAndASlowNextRequestIsCut() async throws {
        let server = try await LimitedServer {
            $0.idleTimeout = .seconds(2)  // room for a slow machine between a response and the next request
            $0.requestTimeout = .milliseconds(300)
        }
        defer { Task { await server.stop() } }
        let port = server.port
        let (first, idleClosed, second, slowClosed) = try await offCooperativePool { () -> (Int?, Bool, Int?, Bool) in
            let idle = try RawConnection(port: port)
            idle.send(Self.get)
            let first = idle.receiveResponse(timeout: 20)?.status
            let idleClosed = idle.waitForClose(timeout: 20)
            let slow = try RawConnection(port: port)
            slow.send(Self.get)
            let second = slow.receiveResponse(timeout: 20)?.status
            // The next request starts and never ends: the request timeout, not the idle one.
            slow.send("GET /metrics HTTP/1.1\r\n")
            return (first, idleClosed, second, slow.waitForClose(timeout: 20))
        }
        #expect(first == 200)
        #expect(idleClosed)
        #expect(second == 200)
        #expect(slowClosed)
        #expect(server.rejections.value(.timeout) == 1, "an expired keep-alive is no rejection; the unfinished request is")
    }

    @Test func overTheConnectionCapTheLongestIdleConnectionMakesRoom() async throws {
        let server = try await LimitedServer {
            $0.maxConnections = 4
            $0.requestTimeout = .seconds(600)  // only the cap closes connections here
        }
        defer { Task { await server.stop() } }
        let port = server.port
        let http = server.server
        let (oldestClosed, othersOpen, served) = try await offCooperativePool { () -> (Bool, Bool, Int?) in
            var idle: [RawConnection] = []
            for index in 0..<4 {
                idle.append(try RawConnection(port: port))
                // Admitted in this order (each event loop admits its own connections).
                let deadline = Date().addingTimeInterval(20)
                while http.openConnections < index + 1, Date() < deadline { usleep(5_000) }
            }
            let newcomer = try RawConnection(port: port)
            newcomer.send(Self.get)
            let served = newcomer.receiveResponse(timeout: 20)?.status
            let oldestClosed = idle[0].waitForClose(timeout: 20)
            let othersOpen = !idle[1].waitForClose(timeout: 0.2)
            return (oldestClosed, othersOpen, served)
        }
        #expect(served == 200)
        #expect(oldestClosed, "the connection idle longest was closed for the newcomer")
        #expect(othersOpen)
        #expect(server.rejections.value(.connectionEvicted) >= 1)
    }

    @Test func requestsOverTheLimitGet503() async throws {
        let server = try await LimitedServer { $0.maxRequests = 2 }
        defer { Task { await server.stop() } }
        let port = server.port
        let http = server.server
        let overLimit = try await offCooperativePool { () -> Int? in
            let slow = try (0..<2).map { _ in try RawConnection(port: port) }
            for connection in slow { connection.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n") }
            let deadline = Date().addingTimeInterval(20)
            while http.requestsInFlight.load(ordering: .relaxed) < 2, Date() < deadline { usleep(5_000) }
            let third = try RawConnection(port: port)
            third.send(Self.get)
            return third.receiveResponse(timeout: 20)?.status
        }
        #expect(overLimit == 503)
        #expect(server.rejections.value(.maxRequests) == 1)
        #expect(try await server.status(Self.get) == 200, "the slow ones hung up: their slots are free")
    }

    @Test func whenEveryConnectionIsBusyANewOneIsClosed() async throws {
        let server = try await LimitedServer { $0.maxConnections = 3 }
        defer { Task { await server.stop() } }
        let port = server.port
        let http = server.server
        let refused = try await offCooperativePool { () -> Bool in
            let slow = try (0..<3).map { _ in try RawConnection(port: port) }
            for connection in slow { connection.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n") }
            let deadline = Date().addingTimeInterval(20)
            while http.requestsInFlight.load(ordering: .relaxed) < 3, Date() < deadline { usleep(5_000) }
            let fourth = try RawConnection(port: port)
            return fourth.waitForClose(timeout: 20)
        }
        #expect(refused)
        #expect(server.rejections.value(.connectionLimit) == 1)
    }

    @Test func oversizedHeadsAre414And431() async throws {
        let server = try await LimitedServer()
        defer { Task { await server.stop() } }
        let long = String(repeating: "a", count: 9_000)
        let huge = String(repeating: "a", count: 40_000)
        #expect(try await server.status("GET /\(long) HTTP/1.1\r\nHost: x\r\n\r\n") == 414)
        #expect(try await server.status("GET /\(huge) HTTP/1.1\r\nHost: x\r\n\r\n") == 414, "past NIO's own limit too")
        #expect(try await server.status("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 17_000))\r\n\r\n") == 431)
        #expect(try await server.status("GET / HTTP/1.1\r\nHost: x\r\nX-Huge: \(huge)\r\n\r\n") == 431, "past NIO's own limit too")
        let many = (0..<150).map { "X-H\($0): v\r\n" }.joined()
        #expect(try await server.status("GET / HTTP/1.1\r\nHost: x\r\n\(many)\r\n") == 431)
        #expect(try await server.status("NOT HTTP AT ALL\r\n\r\n") == 400)
        #expect(server.rejections.value(.uriTooLong) == 2)
        #expect(server.rejections.value(.headersTooLarge) == 3)
        #expect(try await server.status(Self.get) == 200)
    }

    @Test func aTLSHandshakeThatNeverFinishesIsClosed() async throws {
        let pki = try await WebPKI()
        let dir = try ScratchDirectory()
        let config = try dir.write("web.yml", "tls_server_config:\n  cert_file: \(pki.file("server.crt"))\n  key_file: \(pki.file("server.key"))\n")
        let server = try await LimitedServer({
            $0.requestTimeout = .seconds(600)
            $0.tlsHandshakeTimeout = .milliseconds(300)
        }, web: try WebSecurity(path: config))
        defer { Task { await server.stop() } }
        let port = server.port
        let closed = try await offCooperativePool { () -> Bool in
            let connection = try RawConnection(port: port)
            // Half a ClientHello: a record header promising more than ever comes.
            connection.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            return connection.waitForClose(timeout: 20)
        }
        #expect(closed)
        #expect(server.rejections.value(.timeout) == 1)
        let good = try await curl("https://127.0.0.1:\(port)/metrics", ["--cacert", pki.file("ca.crt")], in: dir)
        #expect(good.status == 200, "\(good.output)")
    }

    /// A flood of wrong passwords waits for one bcrypt thread behind a short queue; beyond it the
    /// answer is 429 at once, and a scraper whose credentials verified once is never behind it.
    @Test func aFloodOfWrongPasswordsGets429AndTheCachedScraperIsServed() async throws {
        let dir = try ScratchDirectory()
        let hash = try await pythonBcrypt("right", cost: 11)
        let config = try dir.write("web.yml", "basic_auth_users:\n  prometheus: \(hash)\n")
        let web = try WebSecurity(path: config, maxPendingChecks: 2)
        let server = try await LimitedServer(web: web)
        defer { Task { await server.stop() } }
        func request(_ password: String) -> String {
            let credentials = Data("prometheus:\(password)".utf8).base64EncodedString()
            return "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(credentials)\r\n\r\n"
        }
        #expect(try await server.status(request("right")) == 200, "verified once, then cached")
        let (flood, good) = try await withThrowingTaskGroup(of: (Bool, Int?).self) { group in
            for index in 0..<12 { group.addTask { (false, try await server.status(request("wrong-\(index)"), timeout: 60)) } }
            group.addTask {
                try await Task.sleep(for: .milliseconds(100))
                return (true, try await server.status(request("right")))
            }
            var statuses: [Int?] = []
            var good: Int?
            for try await (isGood, status) in group {
                if isGood { good = status } else { statuses.append(status) }
            }
            return (statuses, good)
        }
        #expect(good == 200, "the cached scraper is served during the flood")
        #expect(flood.allSatisfy { $0 == 401 || $0 == 429 }, "\(flood)")
        #expect(flood.contains(429), "the queue is bounded: \(flood)")
        #expect(server.rejections.value(.passwordCheckOverload) == flood.filter { $0 == 429 }.count)
        #expect(try await server.status(request("right")) == 200)
        #expect(web.passwordChecksPending <= 2)
    }
}
