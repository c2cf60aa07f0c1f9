import CurlHTTP
import Foundation
import Logging
import NIOCore
import TestSupport
import Testing
@testable import SchedulerExporter

/// `/healthz` fails when the exporter stops doing its job (it answered "ok" while its pollers or
/// its libcurl driver were stuck), and a target is visible before its first poll completes.
@Suite struct LivenessTests {
    func healthz(_ routes: Routes) -> Healthz {
        let request = ServerRequest(method: .GET, uri: "/healthz", path: "/healthz", query: [], headers: [:])
        guard case .response(let response) = routes.handle(request) else { return Healthz(status: 0, text: "") }
        return Healthz(status: Int(response.status.code), text: String(buffer: response.body))
    }

    struct Healthz: Equatable {
        var status: Int
        var text: String
    }

    func waitFor(_ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(30)
        while !condition(), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func aPollerThatStopsFailsHealthzNamingItsTarget() async throws {
        let refused = try RefusingPort()
        var target = TargetConfig(name: "cp1", url: "https://127.0.0.1:\(refused.port)")
        target.pollInterval = .milliseconds(100)
        target.timeout = .milliseconds(100)
        target.security.insecurePort = 0
        target.security.nonLoopbackAddresses = []
        let client = CurlClient()
        defer { client.shutdown() }
        let store = SnapshotStore(targetOrder: [target.name])
        let liveness = Liveness(targets: [target], grace: .seconds(4))
        let routes = Routes(store: store, liveness: liveness)
        let poller = TargetPoller(target: target, client: client, store: store, liveness: liveness, logger: Logger(label: "test"))
        let running = Task { await poller.run(initialDelay: .zero) }
        // Polls keep completing (each is refused: a dead target is no dead exporter), past the
        // limit from the start, so progress was what kept it healthy.
        let started = ContinuousClock.now
        func polls() -> Double {
            let text = String(buffer: MetricsPage(store: store).render(format: .prometheusText).targets)
            return text.split(separator: "\n").first { $0.hasPrefix("kube_scheduler_polls_total") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
        }
        try await waitFor { ContinuousClock.now - started > .seconds(5) && polls() >= 3 }
        #expect(polls() >= 3)
        #expect(healthz(routes) == Healthz(status: 200, text: "ok\n"))

        running.cancel()
        try await waitFor { healthz(routes).status == 503 }
        let failing = healthz(routes)
        #expect(failing.status == 503)
        #expect(failing.text.hasPrefix("target \"cp1\": no poll completed for "), "\(failing.text)")
        #expect(failing.text.contains("(limit 4.3s)"), "max(3 × 100ms, 100ms + 100ms) + 4s: \(failing.text)")
    }

    @Test func aDriverThatStopsAnsweringFailsHealthz() async throws {
        let client = CurlClient()
        let liveness = Liveness(targets: [], driverStaleAfter: .seconds(4))
        let routes = Routes(store: SnapshotStore(targetOrder: []), liveness: liveness)
        let watchdog = Task { await liveness.watchDriver(client, every: .milliseconds(50)) }
        defer { watchdog.cancel() }
        try await Task.sleep(for: .seconds(5))
        #expect(await client.ping())
        #expect(healthz(routes).status == 200, "the driver answers its pings, past the limit from the start")

        client.shutdown()
        #expect(await client.ping() == false, "no driver, no answer")
        try await waitFor { healthz(routes).status == 503 }
        #expect(healthz(routes).text.hasPrefix("libcurl driver thread: no answer for "), "\(healthz(routes).text)")
    }

    @Test func aCancelledPingReturnsEvenIfTheDriverNeverAnswers() async throws {
        let client = CurlClient()
        defer { client.shutdown() }
        let ping = Task { await client.ping() }
        ping.cancel()
        _ = await ping.value  // true or false, but it returns
    }

    @Test func aTargetIsDownBeforeItsFirstPoll() throws {
        var target = TargetConfig(name: "cp1", url: "https://127.0.0.1:10259")
        target.labels = ["cluster": "prod"]
        let store = SnapshotStore(targetOrder: [target.name])
        let client = CurlClient()
        defer { client.shutdown() }
        _ = TargetPoller(target: target, client: client, store: store, logger: Logger(label: "test"))
        let (body, _) = MetricsPage(store: store).render(format: .prometheusText)
        #expect(String(buffer: body).contains("kube_scheduler_up{target=\"cp1\",cluster=\"prod\"} 0\n"), "\(String(buffer: body))")
    }
}
