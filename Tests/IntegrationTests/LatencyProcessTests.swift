import Foundation
import Testing

/// The windowed latency gauges end to end: a simulator whose histograms grow (load mode), polled
/// by the exporter process.
@Suite(.serialized) struct LatencyProcessTests {
    @Test func quantilesAppearOnceTwoPollsExistAndTrackTheLoad() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, extra: ["--load", "--load-interval", "0.2"])
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0",
                                                 "--latency.window", "5s", "--latency.quantiles", "0.5,0.99"])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape {
            (sampleValue($0, "kube_scheduler_scheduling_latency_seconds", "kind=\"attempt\"", "quantile=\"0.99\"") ?? .nan).isFinite
        }
        let p50 = try #require(sampleValue(body, "kube_scheduler_scheduling_latency_seconds", "kind=\"attempt\"", "quantile=\"0.5\""))
        let p99 = try #require(sampleValue(body, "kube_scheduler_scheduling_latency_seconds", "kind=\"attempt\"", "quantile=\"0.99\""))
        #expect(p50 > 0 && p50 <= p99, "quantiles are ordered: \(p50) <= \(p99)")
        #expect(sampleValue(body, "kube_scheduler_scheduling_latency_seconds", "quantile=\"0.9\"") == nil, "only the configured quantiles")
        #expect(sampleValue(body, "kube_scheduler_latency_source_info", "kind=\"attempt\"", "metric=\"scheduler_scheduling_attempt_duration_seconds\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_latency_source_info", "kind=\"pod_e2e\"", "metric=\"scheduler_pod_scheduling_sli_duration_seconds\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_schedule_attempts_rate", "result=\"scheduled\"") ?? 0 > 0, "the load schedules pods")
        #expect(sampleValue(body, "kube_scheduler_pending_pods", "queue=\"active\"") != nil)
    }
}
