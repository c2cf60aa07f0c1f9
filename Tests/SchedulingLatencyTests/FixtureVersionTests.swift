import Exposition
import Foundation
import Testing

@testable import SchedulingLatency

private let fixturesRoot: String = {
    let testsDirectory = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
    return "/" + testsDirectory + "/Sources/SchedulerSimulator/Fixtures"
}()

private func fixture(_ relativePath: String) throws -> ExpositionDocument {
    let path = fixturesRoot + "/" + relativePath
    guard let data = FileManager.default.contents(atPath: path) else { throw FixtureMissing(path: path) }
    return try ExpositionDocument(bytes: [UInt8](data))
}

private struct FixtureMissing: Error { let path: String }

private func tracker(_ files: String...) throws -> LatencyReport {
    var tracker = LatencyTracker()
    for (index, file) in files.enumerated() {
        tracker.record(try fixture(file), at: 1_000_000 + 60 * Double(index))
    }
    return tracker.report()
}

/// kind -> metric families feeding it (several for pre-framework extension points).
private func sources(_ report: LatencyReport) -> [String: Set<String>] {
    var result: [String: Set<String>] = [:]
    for sample in report.family(named: LatencyOutputName.sourceInfo)?.samples ?? [] {
        result[sample.label("kind")!, default: []].insert(sample.label("metric")!)
    }
    return result
}

private let tolerance = 1e-9

@Suite struct FixtureVersionTests {
    @Test func v1_2SummariesInMicroseconds() throws {
        let report = try tracker("older/v1.2-metrics.txt")
        #expect(sources(report) == [
            "attempt": ["scheduler_e2e_scheduling_latency_microseconds"],
            "algorithm": ["scheduler_scheduling_algorithm_latency_microseconds"],
            "extension_point": ["scheduler_binding_latency_microseconds"],
        ])
        // Summaries need no window: their own latest quantiles, microseconds -> seconds.
        #expect(isClose(report.latency("attempt", "0.5"), 0.014842, tolerance: tolerance))
        #expect(isClose(report.latency("algorithm", "0.99"), 0.009946, tolerance: tolerance))
        #expect(isClose(
            report.value(LatencyOutputName.extensionPointLatency, ["extension_point": "Bind", "quantile": "0.9"]),
            0.014353, tolerance: tolerance))
        #expect(report.family(named: LatencyOutputName.scheduleAttemptsRate) == nil)
    }

    @Test func v1_13MicrosecondHistograms() throws {
        let report = try tracker("older/v1.13-metrics.txt", "older/v1.13-metrics-later.txt")
        #expect(sources(report) == [
            "attempt": ["scheduler_e2e_scheduling_latency_microseconds"],
            "algorithm": ["scheduler_scheduling_algorithm_latency_microseconds"],
            "extension_point": ["scheduler_binding_latency_microseconds", "scheduler_scheduling_latency_seconds"],
        ])
        // Increase: 4 in (2ms,4ms], 4 in (4ms,8ms], 2 in (8ms,16ms].
        #expect(isClose(report.latency("attempt", "0.5"), 0.005, tolerance: tolerance))  // 4 + 4 * 1/4 ms
        #expect(isClose(report.latency("attempt", "0.9"), 0.012, tolerance: tolerance))  // 8 + 8 * 1/2 ms
        #expect(isClose(report.latency("attempt", "0.99"), 0.0156, tolerance: tolerance))  // 8 + 8 * 1.9/2 ms
        #expect(report.latency("attempt", "0.5", result: "scheduled") == nil)
        #expect(isClose(report.latency("algorithm", "0.5"), 0.0015, tolerance: tolerance))  // 10 in (1ms, 2ms]
        let points = LatencyOutputName.extensionPointLatency
        #expect(isClose(report.value(points, ["extension_point": "Bind", "quantile": "0.5"]), 0.006, tolerance: tolerance))
        // Sub-operations without a histogram come from the `operation` summary, already in seconds.
        #expect(isClose(report.value(points, ["extension_point": "Filter", "quantile": "0.5"]), 0.0008, tolerance: tolerance))
        #expect(report.value(points, ["extension_point": "Score", "quantile": "0.5"]) != nil)
        #expect(report.value(points, ["extension_point": "PostFilter", "quantile": "0.5"]) != nil)
        let rates = LatencyOutputName.scheduleAttemptsRate
        #expect(isClose(report.value(rates, ["result": "scheduled"]), 10.0 / 60, tolerance: tolerance))
        #expect(isClose(report.value(rates, ["result": "unschedulable"]), 2.0 / 60, tolerance: tolerance))
        #expect(report.value(rates, ["result": "error"]) == 0)
        #expect(isClose(report.value(LatencyOutputName.preemptionAttemptsRate), 2.0 / 60, tolerance: tolerance))
        #expect(report.family(named: LatencyOutputName.pendingPods) == nil)
    }

    @Test func v1_18SecondsFrameworkAndPodE2E() throws {
        let report = try tracker("older/v1.18-metrics.txt", "older/v1.18-metrics-later.txt")
        #expect(sources(report) == [
            "attempt": ["scheduler_e2e_scheduling_duration_seconds"],
            "pod_e2e": ["scheduler_pod_scheduling_duration_seconds"],
            "algorithm": ["scheduler_scheduling_algorithm_duration_seconds"],
            "extension_point": ["scheduler_framework_extension_point_duration_seconds"],
        ])
        // Both results: 0.008:6, 0.016:9, 0.032:10.
        #expect(isClose(report.latency("attempt", "0.5"), 0.004 + 0.004 * 5 / 6, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.9"), 0.016, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.99"), 0.0304, tolerance: tolerance))
        // Scheduled only: 0.008:6, 0.016:8, 0.032:9.
        #expect(isClose(report.latency("attempt", "0.5", result: "scheduled"), 0.007, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.9", result: "scheduled"), 0.0176, tolerance: tolerance))
        // Pod e2e: 8 in (0.02, 0.04], 2 in (0.04, 0.08].
        #expect(isClose(report.latency("pod_e2e", "0.5"), 0.0325, tolerance: tolerance))
        #expect(isClose(report.latency("pod_e2e", "0.9"), 0.06, tolerance: tolerance))
        let points = LatencyOutputName.extensionPointLatency
        #expect(isClose(report.value(points, ["extension_point": "Filter", "quantile": "0.5"]), 0.0003, tolerance: tolerance))
        #expect(isClose(report.value(points, ["extension_point": "Bind", "quantile": "0.5"]), 0.0048, tolerance: tolerance))
        // No new PreFilter observations in the window.
        #expect(report.value(points, ["extension_point": "PreFilter", "quantile": "0.5"])?.isNaN == true)
        #expect(isClose(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]), 9.0 / 60, tolerance: tolerance))
        #expect(isClose(report.value(LatencyOutputName.preemptionAttemptsRate), 1.0 / 60, tolerance: tolerance))
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "unschedulable"]) == 2)
        // 1.18 has no per-plugin family; the queue still tells.
        #expect(report.value(LatencyOutputName.unschedulablePods) == 2)
        #expect(report.family(named: LatencyOutputName.unschedulablePodsByPlugin) == nil)
    }

    @Test func v1_26PrefersAttemptDurationOverDeprecatedE2E() throws {
        let report = try tracker("older/v1.26-metrics.txt", "older/v1.26-metrics.txt")
        #expect(sources(report) == [
            "attempt": ["scheduler_scheduling_attempt_duration_seconds"],
            "pod_e2e": ["scheduler_pod_scheduling_duration_seconds"],
            "algorithm": ["scheduler_scheduling_algorithm_duration_seconds"],
            "extension_point": ["scheduler_framework_extension_point_duration_seconds"],
        ])
        // Same body twice: no observations in the window.
        #expect(report.latency("attempt", "0.99")?.isNaN == true)
        #expect(report.latency("attempt", "0.99", result: "scheduled")?.isNaN == true)
        #expect(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]) == 0)
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "gated"]) == 2)
        #expect(report.value(LatencyOutputName.unschedulablePods) == 5)
        #expect(report.value(LatencyOutputName.unschedulablePodsByPlugin, ["plugin": "NodeResourcesFit"]) == 4)
    }

    @Test func v1_35RealCaptureBeforeAndAfterLoad() throws {
        let report = try tracker("kube-scheduler-1.35/default/metrics.txt", "kube-scheduler-1.35/default-after-load/metrics.txt")
        #expect(sources(report) == [
            "attempt": ["scheduler_scheduling_attempt_duration_seconds"],
            "pod_e2e": ["scheduler_pod_scheduling_sli_duration_seconds"],
            "algorithm": ["scheduler_scheduling_algorithm_duration_seconds"],
            "extension_point": ["scheduler_framework_extension_point_duration_seconds"],
        ])
        // The two captures come from two scheduler processes (process_start_time_seconds differs),
        // so all the second one counted is the increase: scheduled 0.004:5, 0.008:22, 0.016:27,
        // 0.032:30, plus its own 3 unschedulable attempts at 0.004 (8, 25, 30, 33 together).
        #expect(isClose(report.latency("attempt", "0.5"), 0.004 + 0.004 * 8.5 / 17, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.9"), 0.008 + 0.008 * 4.7 / 5, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.99"), 0.016 + 0.016 * 2.67 / 3, tolerance: tolerance))
        #expect(isClose(report.latency("attempt", "0.5", result: "scheduled"), 0.004 + 0.004 * 10 / 17, tolerance: tolerance))
        #expect(isClose(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]), 0.5, tolerance: tolerance))
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "unschedulable"]) == 3)
        #expect(report.value(LatencyOutputName.unschedulablePods) == 3)
        let bind = report.value(LatencyOutputName.extensionPointLatency, ["extension_point": "Bind", "quantile": "0.5"])
        #expect(bind != nil && bind! > 0)
    }

    @Test func reportConvertsToOutputFamilies() throws {
        let report = try tracker("older/v1.18-metrics.txt", "older/v1.18-metrics-later.txt")
        let families = report.outputFamilies
        #expect(families.map(\.name) == report.families.map(\.name))
        // Quantile families are summaries (a quantile label on a gauge is a promtool lint error).
        for family in families {
            let quantiled = family.samples.contains { $0.labels.contains { $0.0 == "quantile" } }
            #expect(family.type == (quantiled ? .summary : .gauge), "\(family.name)")
        }
        #expect(families.allSatisfy { ExpositionWriter.problems(in: $0).isEmpty })
        let text = String(decoding: ExpositionWriter.render(families, format: .prometheusText), as: UTF8.self)
        #expect(text.contains("kube_scheduler_scheduling_latency_seconds{kind=\"attempt\",quantile=\"0.9\"} 0.016"))
    }
}
