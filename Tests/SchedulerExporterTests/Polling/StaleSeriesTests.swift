import CurlHTTP
import SchedulerSimulator
import Testing
@testable import SchedulerExporter

/// What the poller publishes once the scheduler is gone, against a real (in-process) simulator
/// that is stopped between polls: nothing derived from its /metrics may outlive it.
@Suite struct StaleSeriesTests {
    static let derivedFromMetrics = [
        "kube_scheduler_scheduling_latency_seconds", "kube_scheduler_extension_point_latency_seconds",
        "kube_scheduler_latency_source_info", "kube_scheduler_schedule_attempts_rate", "kube_scheduler_pending_pods",
        "kube_scheduler_unschedulable_pods", "kube_scheduler_unschedulable_pods_by_plugin",
        "kube_scheduler_build_info", "kube_scheduler_leader",
        "kube_scheduler_feature_enabled",
    ]

    @Test func seriesDerivedFromMetricsDisappearWhenTheSchedulerDies() async throws {
        let simulator = try await SimulatorTarget.start {
            $0.load = true
            $0.loadInterval = nil
        }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let poller = makePoller(simulator.target(), client: client)

        await poller.pollOnce()
        simulator.simulator.advanceLoad(ticks: 3)
        let alive = await poller.pollOnce()
        #expect(alive.value("kube_scheduler_up") == 1)
        for name in Self.derivedFromMetrics {
            #expect(alive.family(name)?.samples.isEmpty == false, "\(name) while the scheduler runs")
        }

        try await simulator.stop()
        let dead = await poller.pollOnce()
        #expect(dead.value("kube_scheduler_up") == 0)
        for name in Self.derivedFromMetrics {
            #expect(dead.family(name)?.samples.isEmpty ?? true, "\(name) after the scheduler died: \(dead.family(name)?.samples.count ?? 0) series")
        }
        #expect(dead.value("kube_scheduler_polls_total") == 3, "the poll bookkeeping itself stays")
        // The TLS observations of the live process served that cycle; the next one asks again.
        let stillDead = await poller.pollOnce()
        #expect(stillDead.status("tls_min_version") == "unknown")
        #expect(stillDead.family("kube_scheduler_tls_cert_not_after_timestamp_seconds") == nil)
    }

    /// The load's counters restart from zero at tick 2 with a new process start time.
    @Test func ratesAcrossASchedulerRestartStayFiniteAndNonNegative() async throws {
        let simulator = try await SimulatorTarget.start {
            $0.load = true
            $0.loadInterval = nil
            $0.restartAtTick = 2
        }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let poller = makePoller(simulator.target(), client: client)

        await poller.pollOnce()
        for _ in 0..<3 {
            simulator.simulator.advanceLoad(ticks: 1)
            let snapshot = await poller.pollOnce()
            let rates = snapshot.family("kube_scheduler_schedule_attempts_rate")?.samples ?? []
            #expect(!rates.isEmpty)
            #expect(rates.allSatisfy { $0.value.isFinite && $0.value >= 0 }, "\(rates.map(\.value)) at tick \(simulator.simulator.loadTick)")
        }
    }
}
