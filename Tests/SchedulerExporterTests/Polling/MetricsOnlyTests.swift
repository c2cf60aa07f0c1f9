import CurlHTTP
import Logging
import NIOCore
import SchedulerSimulator
import Testing
@testable import SchedulerExporter

/// A metrics-only target against the in-process simulator over real HTTPS on 127.0.0.1, at the
/// path EKS serves a managed scheduler's metrics on.
@Suite struct MetricsOnlyTests {
    /// A managed control plane (EKS): only the metrics path is polled, through the "API server"
    /// with the exporter's token; latency, queues and passthrough work; every check that needs
    /// more than the metrics is unknown with the reason.
    @Test func aMetricsOnlyTargetPollsOnlyItsMetricsPath() async throws {
        let simulator = try await SimulatorTarget.start {
            $0.eksMetrics = true
            $0.load = true
            $0.loadInterval = nil
        }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let target = simulator.metricsOnlyTarget()
        let store = SnapshotStore(targetOrder: [target.name])
        let poller = TargetPoller(target: target, client: client, store: store,
                                  passthrough: PassthroughFilter(pattern: ExporterConfig.defaultPassthroughFamilies), logger: Logger(label: "test"))

        await poller.pollOnce()
        simulator.simulator.advanceLoad(ticks: 3)
        let snapshot = await poller.pollOnce()
        #expect(snapshot.value("kube_scheduler_up") == 1)
        #expect(snapshot.value("kube_scheduler_endpoint_http_status", ["endpoint": "metrics"]) == 200)
        #expect(snapshot.family("kube_scheduler_build_info")?.samples.isEmpty == false)
        #expect(snapshot.family("kube_scheduler_scheduling_latency_seconds")?.samples.isEmpty == false)
        #expect(snapshot.family("kube_scheduler_pending_pods")?.samples.isEmpty == false)
        #expect(snapshot.passthroughBody.map { String(buffer: $0).contains("# TYPE scheduler_pending_pods gauge") } == true)
        #expect(snapshot.family("kube_scheduler_platform_info") == nil, "this node is not the control plane's")
        #expect(snapshot.status("no_alpha_feature_gates") == "pass", "read from the metrics themselves")
        let findings = snapshot.family("kube_scheduler_security_check")?.samples.filter { $0.value == 1 } ?? []
        let unknown = findings.filter { $0.labels.contains { $0 == ("status", "unknown") } }
        #expect(unknown.count == SecurityChecks.catalogue.count - 1, "every check but the alpha gates")
        let paths = Set(simulator.simulator.recordedRequests().map(\.path))
        #expect(paths == [TargetConfig.eksSchedulerMetricsPath], "nothing but the metrics path: \(paths)")

        // The reason is the verdict's evidence.
        let context = CheckContext(target: target, now: 0, logger: Logger(label: "test"))
        let output = Checks.evaluate(Checks.all, PollResult(startedAt: 0), context: context)
        #expect(output.finding("profiling_disabled")?.evidence == "metrics-only target: the control plane is managed")
        #expect(output.finding("manifest_permissions")?.status == .unknown)
    }

    /// Without `get` on ksh/metrics the API server refuses: the target is down with the 403 shown.
    @Test func aMetricsOnlyTargetWithoutTheRoleIsDown() async throws {
        let simulator = try await SimulatorTarget.start {
            $0.eksMetrics = true
            $0.nobodyTokens = ["nobody-token-unit"]
        }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        var target = simulator.metricsOnlyTarget()
        let tokenFile = simulator.directory + "/nobody-token"
        try "nobody-token-unit".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        target.bearerTokenFile = tokenFile
        let snapshot = await makePoller(target, client: client).pollOnce()
        #expect(snapshot.value("kube_scheduler_up") == 0)
        #expect(snapshot.value("kube_scheduler_endpoint_http_status", ["endpoint": "metrics"]) == 403)
        #expect(snapshot.value("kube_scheduler_poll_errors_total", ["reason": "http_status"]) == 1)

        // A scheduler's own port has no such path: what the simulator serves without eksMetrics.
        let plain = try await SimulatorTarget.start()
        defer { plain.cleanUp() }
        var wrong = plain.target(name: "eks")
        wrong.kind = .metricsOnly
        wrong.metricsPath = TargetConfig.eksSchedulerMetricsPath
        let missing = await makePoller(wrong, client: client).pollOnce()
        #expect(missing.value("kube_scheduler_endpoint_http_status", ["endpoint": "metrics"]) == 404)
    }
}
