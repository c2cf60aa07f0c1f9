import CurlHTTP
import Logging
import NIOCore
import SchedulerSimulator
import Testing
@testable import SchedulerExporter

/// `/metrics/resources` polled from the in-process simulator over real HTTPS on 127.0.0.1 and
/// passed through.
@Suite struct ResourcesPassthroughTests {
    /// `--passthrough.resources`: /metrics/resources is polled with the rest and kept verbatim.
    @Test func metricsResourcesArePassedThrough() async throws {
        let simulator = try await SimulatorTarget.start()
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let target = simulator.target()
        let store = SnapshotStore(targetOrder: [target.name])
        let poller = TargetPoller(target: target, client: client, store: store, passthroughResources: true, logger: Logger(label: "test"))
        let snapshot = await poller.pollOnce()
        let served = try #require(snapshot.resourcesBody.map { String(buffer: $0) })
        let fixture = String(decoding: try #require(FileAccess.read(Capture.root + "/../synthetic/metrics-resources.txt")), as: UTF8.self)
        #expect(served == fixture, "byte for byte what the scheduler served")
        #expect(snapshot.value("kube_scheduler_endpoint_http_status", ["endpoint": "metrics_resources"]) == 200)

        let page = PassthroughPage(store: store, enabled: true, body: .resources)
        let response = page.respond(target: nil, acceptsGzip: false)
        #expect(response.status == .ok)
        #expect(String(buffer: response.body) == fixture)
        #expect(PassthroughPage(store: store, enabled: false, body: .resources).respond(target: nil).status == .notFound)

        // Off by default: the endpoint is not even asked.
        simulator.simulator.clearRecordedRequests()
        let plain = await makePoller(target, client: client).pollOnce()
        #expect(plain.resourcesBody == nil)
        #expect(!simulator.simulator.recordedRequests().contains { $0.path == "/metrics/resources" })
        let empty = SnapshotStore(targetOrder: ["sim"])
        empty.publish(plain)
        #expect(PassthroughPage(store: empty, enabled: true, body: .resources).respond(target: nil).status == .serviceUnavailable)
    }

    /// A managed control plane serves no /metrics/resources next to its metrics: not asked for.
    @Test func aMetricsOnlyTargetIsNotAskedForResources() async throws {
        let simulator = try await SimulatorTarget.start { $0.eksMetrics = true }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let target = simulator.metricsOnlyTarget()
        let poller = TargetPoller(target: target, client: client, store: SnapshotStore(targetOrder: [target.name]),
                                  passthroughResources: true, logger: Logger(label: "test"))
        let snapshot = await poller.pollOnce()
        #expect(snapshot.value("kube_scheduler_up") == 1)
        #expect(snapshot.resourcesBody == nil)
        #expect(simulator.simulator.recordedRequests().map(\.path) == [TargetConfig.eksSchedulerMetricsPath])
    }

    /// A body with a malformed line is not passed on: Prometheus would fail the whole scrape.
    @Test func aMalformedResourcesBodyIsNotPassedOn() throws {
        var poll = PollResult(startedAt: 0)
        poll.responses[.metricsResources] = .success(HTTPResponse(status: 200, body: Array("kube_pod_resource_request{ 1\n".utf8)))
        #expect(TargetPoller.resourcesBody(poll) == nil)
        poll.responses[.metricsResources] = .success(HTTPResponse(status: 200, body: Array("kube_pod_resource_request 1".utf8)))
        #expect(TargetPoller.resourcesBody(poll).map { String(buffer: $0) } == "kube_pod_resource_request 1\n", "a final newline is added")
        poll.responses[.metricsResources] = .success(HTTPResponse(status: 403, body: []))
        #expect(TargetPoller.resourcesBody(poll) == nil)
    }
}
