import CurlHTTP
import Foundation
import Logging
import NIOCore
import TestSupport
import Testing
@testable import SchedulerExporter

/// `X-Prometheus-Scrape-Timeout-Seconds` is the client's to write: parsed defensively, clamped to
/// `--probe.max-timeout`, and a probe whose client hung up is cancelled.
@Suite struct ProbeTimeoutTests {
    let maximum: Duration = .seconds(10)

    func budget(_ header: String?) -> Result<Duration, ProbeTimeout.Problem> {
        ProbeTimeout.budget(header: header, maximum: maximum)
    }

    @Test func prometheusHeadersLeaveHalfASecond() throws {
        #expect(try budget("10").get() == .milliseconds(9_500))
        #expect(try budget("4.5").get() == .seconds(4))
        #expect(try budget(" 3 ").get() == .milliseconds(2_500), "optional whitespace")
        #expect(try budget("1").get() == .milliseconds(500), "a second or less is halved, never zero")
        #expect(try budget("0.2").get() == .milliseconds(100))
        #expect(try budget(nil).get() == .milliseconds(9_500), "no header: the maximum")
    }

    @Test(arguments: ["1e300", "inf", "+Inf", "infinity", "1e7", "86400", "1.7976931348623157e308"])
    func hugeValuesAreClampedToTheMaximum(header: String) throws {
        #expect(try budget(header).get() == .milliseconds(9_500))
    }

    @Test(arguments: ["nan", "NaN", "-nan", "abc", "", "1s", "0x", "10 10", String(repeating: "1", count: 65)])
    func garbageIsRefused(header: String) {
        guard case .failure(.notANumber) = budget(header) else { Issue.record("\(header.debugDescription) accepted"); return }
    }

    @Test(arguments: ["0", "-0", "-1", "-inf", "1e-400"])
    func nonPositiveIsRefused(header: String) {
        guard case .failure(.notPositive) = budget(header) else { Issue.record("\(header.debugDescription) accepted"); return }
    }

    @Test func configRejectsAMaximumThatCannotBeRight() throws {
        var config = ExporterConfig(targets: [TargetConfig(name: "a", url: "https://127.0.0.1:10259")])
        config.probe.maxTimeout = .zero
        #expect(throws: ConfigError.self) { try config.validated() }
        config.probe.maxTimeout = .seconds(3_600)
        #expect(throws: ConfigError.self) { try config.validated() }
        config.probe.maxTimeout = .seconds(30)
        #expect(throws: Never.self) { try config.validated() }
    }

    /// A probe of a black hole with a generous budget holds the only slot; the client hanging up
    /// must free it (before, the probe ran its whole budget and every other probe got 503).
    @Test func aProbeWhoseClientHangsUpIsCancelled() async throws {
        let blackHole = try SilentListener()
        var config = OutsideInProbeConfig()
        config.allowedTargets = [try CIDR(parsing: "127.0.0.0/8")]
        config.allowedPorts = [blackHole.port]
        config.maxConcurrent = 1
        config.insecurePort = 0
        config.maxTimeout = .seconds(120)
        let client = CurlClient()
        defer { client.shutdown() }
        let prober = OutsideInProber(config: config, client: client, logger: Logger(label: "test"))
        let routes = Routes(store: SnapshotStore(targetOrder: []), prober: prober)
        let server = HTTPServer(threads: 1, router: { routes.handle($0) }, logger: Logger(label: "test"))
        let channel = try await server.start(host: "127.0.0.1", port: 0)
        let port = try #require(channel.localAddress?.port)
        defer { Task { try? await channel.close(); try? await server.shutdown() } }

        let request = "GET /probe?target=127.0.0.1:\(blackHole.port) HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 120\r\n\r\n"
        let first = try RawConnection(port: port)
        first.send(request)
        let deadline = Date().addingTimeInterval(30)
        while prober.running.load(ordering: .relaxed) == 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(prober.running.load(ordering: .relaxed) == 1, "the first probe holds the slot")

        // While it runs, another probe is turned away.
        let busy = try await offCooperativePool { () -> Int? in
            let second = try RawConnection(port: port)
            second.send(request)
            return second.receiveResponse(timeout: 20)?.status
        }
        #expect(busy == 503)

        first.close()
        while prober.running.load(ordering: .relaxed) != 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(prober.running.load(ordering: .relaxed) == 0, "hanging up freed the slot long before the 120 s budget")
    }
}
