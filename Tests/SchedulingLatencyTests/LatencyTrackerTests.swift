import Testing

@testable import SchedulingLatency

private let attemptFamily = "scheduler_scheduling_attempt_duration_seconds"
private let scheduled = ["profile": "default-scheduler", "result": "scheduled"]
private let unschedulable = ["profile": "default-scheduler", "result": "unschedulable"]

private func attemptPoll(
    scheduled scheduledPairs: [(Double, Double)], unschedulable unschedulablePairs: [(Double, Double)]
) -> SchedulerMetricsInput {
    SchedulerMetricsInput(families: [
        attemptFamily: .histogram([
            histogram(scheduled, scheduledPairs), histogram(unschedulable, unschedulablePairs),
        ]),
        "scheduler_schedule_attempts_total": .scalar([
            counter(scheduled, scheduledPairs.last!.1), counter(unschedulable, unschedulablePairs.last!.1),
        ]),
    ])
}

private func singleSeriesPoll(_ pairs: [(Double, Double)], labels: [String: String] = [:]) -> SchedulerMetricsInput {
    SchedulerMetricsInput(families: ["scheduler_scheduling_algorithm_duration_seconds": .histogram([histogram(labels, pairs)])])
}

@Suite struct LatencyTrackerTests {
    @Test func onePollReportsNoWindowedValues() {
        var tracker = LatencyTracker()
        tracker.record(attemptPoll(scheduled: [(0.001, 1), (.infinity, 1)], unschedulable: [(0.001, 0), (.infinity, 0)]), at: 0)
        let report = tracker.report()
        #expect(report.family(named: LatencyOutputName.schedulingLatency) == nil)
        #expect(report.family(named: LatencyOutputName.scheduleAttemptsRate) == nil)
        #expect(report.windowStart == nil)
        // Which family feeds the kind is known from one poll already.
        #expect(report.value(LatencyOutputName.sourceInfo, ["kind": "attempt", "metric": attemptFamily]) == 1)
    }

    @Test func sumsOverResultAndProfileAndOffersTheScheduledVariant() {
        var tracker = LatencyTracker()
        tracker.record(
            attemptPoll(
                scheduled: [(0.001, 0), (0.002, 1), (0.004, 3), (.infinity, 4)],
                unschedulable: [(0.001, 1), (0.002, 1), (0.004, 1), (.infinity, 1)]), at: 1000)
        tracker.record(
            attemptPoll(
                scheduled: [(0.001, 0), (0.002, 3), (0.004, 9), (.infinity, 12)],
                unschedulable: [(0.001, 3), (0.002, 3), (0.004, 3), (.infinity, 3)]), at: 1060)
        let report = tracker.report()
        // Increase summed by le: 0.001:2, 0.002:4, 0.004:8, +Inf:10.
        #expect(isClose(report.latency("attempt", "0.5"), 0.0025))  // rank 5: 0.002 + 0.002 * 1/4
        #expect(report.latency("attempt", "0.9") == 0.004)  // rank 9 is in +Inf
        // Scheduled only: 0.001:0, 0.002:2, 0.004:6, +Inf:8.
        #expect(isClose(report.latency("attempt", "0.5", result: "scheduled"), 0.003))  // 0.002 + 0.002 * 2/4
        #expect(isClose(report.latency("attempt", "0.99", result: "scheduled"), 0.004))
        #expect(isClose(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]), 8.0 / 60))
        #expect(isClose(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "unschedulable"]), 2.0 / 60))
        #expect(report.windowStart == 1000 && report.windowEnd == 1060)
    }

    @Test func counterResetSumsTheSegments() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(0.1, 5), (0.2, 8), (.infinity, 10)]), at: 0)
        tracker.record(singleSeriesPoll([(0.1, 1), (0.2, 1), (.infinity, 2)]), at: 30)  // restart
        tracker.record(singleSeriesPoll([(0.1, 2), (0.2, 4), (.infinity, 6)]), at: 60)
        let report = tracker.report()
        // Segments (1,1,2) + (1,3,4) = (2,4,6); rank 3 lies in (0.1, 0.2]: 0.1 + 0.1 * 1/2.
        #expect(isClose(report.latency("algorithm", "0.5"), 0.15))
        #expect(report.latency("algorithm", "0.9") == 0.2)
    }

    @Test func oneDecreasingBucketResetsTheWholeSeries() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(0.1, 5), (0.2, 5), (.infinity, 5)]), at: 0)
        // After a restart 0.1 went down, while 0.2 and +Inf happen to be higher than before.
        tracker.record(singleSeriesPoll([(0.1, 1), (0.2, 7), (.infinity, 8)]), at: 30)
        let report = tracker.report()
        // Whole-series reset: increase (1, 7, 8); rank 4 lies in (0.1, 0.2]: 0.1 + 0.1 * 3/6.
        #expect(isClose(report.latency("algorithm", "0.5"), 0.15))
    }

    @Test func seriesAppearingInsideTheWindowCountFromZero() {
        var tracker = LatencyTracker()
        let family = "scheduler_pod_scheduling_sli_duration_seconds"
        tracker.record(
            SchedulerMetricsInput(families: [family: .histogram([histogram(["attempts": "1"], [(0.1, 4), (.infinity, 4)])])]),
            at: 0)
        tracker.record(
            SchedulerMetricsInput(families: [
                family: .histogram([
                    histogram(["attempts": "1"], [(0.1, 6), (.infinity, 6)]),
                    histogram(["attempts": "2"], [(0.1, 0), (.infinity, 2)]),
                ])
            ]), at: 15)
        let report = tracker.report()
        // (2, 2) + (0, 2) = 0.1:2, +Inf:4; rank 1 -> 0.05, rank 3 -> +Inf -> 0.1.
        #expect(isClose(report.latency("pod_e2e", "0.5"), 0.1))
        #expect(report.latency("pod_e2e", "0.9") == 0.1)
        #expect(report.value(LatencyOutputName.sourceInfo, ["kind": "pod_e2e", "metric": family]) == 1)
    }

    @Test func noNewObservationsGiveNaN() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(0.1, 5), (.infinity, 5)]), at: 0)
        tracker.record(singleSeriesPoll([(0.1, 5), (.infinity, 5)]), at: 30)
        let value = tracker.report().latency("algorithm", "0.5")
        #expect(value != nil && value!.isNaN)
    }

    @Test func everythingInInfBucket() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(0.1, 0), (0.2, 0), (.infinity, 0)]), at: 0)
        tracker.record(singleSeriesPoll([(0.1, 0), (0.2, 0), (.infinity, 9)]), at: 30)
        #expect(tracker.report().latency("algorithm", "0.5") == 0.2)
    }

    @Test func bucketsOutOfOrderInTheInput() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(.infinity, 2), (0.2, 1), (0.1, 0)]), at: 0)
        tracker.record(singleSeriesPoll([(0.2, 5), (.infinity, 6), (0.1, 2)]), at: 30)
        // Increase 0.1:2, 0.2:4, +Inf:4; rank 2 -> first bucket: 0.1 * 2/2.
        #expect(isClose(tracker.report().latency("algorithm", "0.5"), 0.1))
    }

    @Test func baselineIsTheOldestPollInsideTheWindow() {
        var tracker = LatencyTracker(configuration: .init(window: 60, quantiles: [0.1]))
        for (index, time) in [0.0, 30, 60, 90].enumerated() {
            tracker.record(singleSeriesPoll([(0.1, Double(index)), (.infinity, Double(10 * index))]), at: time)
        }
        var report = tracker.report()
        #expect(report.windowStart == 30 && report.windowEnd == 90)
        // 0.1: 3 - 1 = 2, +Inf: 30 - 10 = 20; rank 2 -> 0.1 * 2/2
        #expect(isClose(report.latency("algorithm", "0.1"), 0.1))

        tracker.record(singleSeriesPoll([(0.1, 4), (.infinity, 40)]), at: 120)
        report = tracker.report()
        #expect(report.windowStart == 60)
        // Retained: the poll just before the window (30) plus 60, 90, 120.
        #expect(tracker.retainedPollCount == 4)
    }

    @Test func pollIntervalLongerThanWindowFallsBackToThePreviousPoll() {
        var tracker = LatencyTracker(configuration: .init(window: 60, quantiles: [0.25]))
        tracker.record(singleSeriesPoll([(0.1, 0), (.infinity, 0)]), at: 0)
        tracker.record(singleSeriesPoll([(0.1, 2), (.infinity, 4)]), at: 100)
        let report = tracker.report()
        #expect(report.windowStart == 0)
        #expect(isClose(report.latency("algorithm", "0.25"), 0.05))
    }

    @Test func historyIsCapped() {
        var tracker = LatencyTracker(configuration: .init(window: 3600, maxRetainedPolls: 3))
        for step in 0..<10 {
            tracker.record(singleSeriesPoll([(0.1, Double(step)), (.infinity, Double(step))]), at: Double(step))
        }
        #expect(tracker.retainedPollCount == 3)
        #expect(tracker.report().windowStart == 7)
    }

    @Test func clockGoingBackRestartsTheHistory() {
        var tracker = LatencyTracker()
        tracker.record(singleSeriesPoll([(0.1, 1), (.infinity, 1)]), at: 100)
        tracker.record(singleSeriesPoll([(0.1, 2), (.infinity, 2)]), at: 50)
        #expect(tracker.retainedPollCount == 1)
        #expect(tracker.report().latency("algorithm", "0.5") == nil)
    }

    @Test func configuredQuantiles() {
        var tracker = LatencyTracker(configuration: .init(quantiles: [0.75]))
        tracker.record(singleSeriesPoll([(1, 0), (2, 0), (.infinity, 0)]), at: 0)
        tracker.record(singleSeriesPoll([(1, 4), (2, 8), (.infinity, 8)]), at: 10)
        let report = tracker.report()
        #expect(report.family(named: LatencyOutputName.schedulingLatency)?.samples.count == 1)
        #expect(isClose(report.latency("algorithm", "0.75"), 1.5))  // rank 6: 1 + 1 * 2/4
    }

    @Test func microsecondHistogramsAreConvertedToSeconds() {
        var tracker = LatencyTracker()
        let family = "scheduler_e2e_scheduling_latency_microseconds"
        func poll(_ pairs: [(Double, Double)]) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: [family: .histogram([histogram([:], pairs)])])
        }
        tracker.record(poll([(1000, 0), (2000, 0), (4000, 0), (.infinity, 0)]), at: 0)
        tracker.record(poll([(1000, 1), (2000, 3), (4000, 4), (.infinity, 4)]), at: 10)
        let report = tracker.report()
        // rank 2 in (1000us, 2000us] with 2 observations, 1 needed: 1.5 ms
        #expect(isClose(report.latency("attempt", "0.5"), 0.0015))
        // No `result` label in the source: no scheduled-only variant is claimed.
        #expect(report.latency("attempt", "0.5", result: "scheduled") == nil)
    }

    @Test func summariesUseTheirLatestQuantilesInSeconds() {
        var tracker = LatencyTracker()
        let input = SchedulerMetricsInput(families: [
            "scheduler_e2e_scheduling_latency_microseconds": .summary([
                SummarySample(
                    quantiles: [.init(quantile: 0.5, value: 12000), .init(quantile: 0.9, value: 30000), .init(quantile: 0.99, value: .nan)],
                    sum: 1e6, count: 40)
            ]),
            "scheduler_scheduling_latency_seconds": .summary([
                SummarySample(labels: ["operation": "predicate_evaluation"], quantiles: [.init(quantile: 0.5, value: 0.0004)], sum: 0, count: 1),
                SummarySample(labels: ["operation": "binding"], quantiles: [.init(quantile: 0.5, value: 0.02)], sum: 0, count: 1),
            ]),
        ])
        tracker.record(input, at: 0)
        let report = tracker.report()
        #expect(isClose(report.latency("attempt", "0.5"), 0.012))
        #expect(isClose(report.latency("attempt", "0.9"), 0.03))
        #expect(report.latency("attempt", "0.99")?.isNaN == true)
        let points = LatencyOutputName.extensionPointLatency
        #expect(isClose(report.value(points, ["extension_point": "Filter", "quantile": "0.5"]), 0.0004))
        #expect(isClose(report.value(points, ["extension_point": "Bind", "quantile": "0.5"]), 0.02))
    }

    /// Older polls drop their summaries and gauges (only the newest is read); a poll replaced at
    /// the same time must still leave the newest poll's summary in place.
    @Test func newestOnlyFamiliesSurviveReplacementAndHistory() {
        var tracker = LatencyTracker()
        func poll(_ median: Double, pending: Double) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: [
                "scheduler_e2e_scheduling_latency_microseconds": .summary([
                    SummarySample(quantiles: [.init(quantile: 0.5, value: median)], sum: 0, count: 1)
                ]),
                "scheduler_pending_pods": .scalar([counter(["queue": "active"], pending)]),
            ])
        }
        tracker.record(poll(1000, pending: 1), at: 0)
        tracker.record(poll(2000, pending: 2), at: 10)
        tracker.record(poll(3000, pending: 3), at: 10)  // same time: replaces the newest
        var report = tracker.report()
        #expect(tracker.retainedPollCount == 2)
        #expect(isClose(report.latency("attempt", "0.5"), 0.003))
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "active"]) == 3)
        tracker.record(poll(4000, pending: 4), at: 20)
        report = tracker.report()
        #expect(isClose(report.latency("attempt", "0.5"), 0.004))
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "active"]) == 4)
    }

    /// The scheduler usually writes series in the same order, but nothing guarantees it: a
    /// reordered poll must still match each series by its labels.
    @Test func seriesAreMatchedByLabelsWhenTheirOrderChanges() {
        var tracker = LatencyTracker()
        let a = ["extension_point": "Filter", "profile": "p", "status": "Success"]
        let b = ["extension_point": "Bind", "profile": "p", "status": "Success"]
        let family = "scheduler_framework_extension_point_duration_seconds"
        tracker.record(SchedulerMetricsInput(families: [family: .histogram([
            histogram(a, [(0.001, 10), (.infinity, 10)]), histogram(b, [(0.001, 0), (.infinity, 100)]),
        ])]), at: 0)
        tracker.record(SchedulerMetricsInput(families: [family: .histogram([
            histogram(b, [(0.001, 0), (.infinity, 100)]), histogram(a, [(0.001, 14), (.infinity, 14)]),
        ])]), at: 10)
        let report = tracker.report()
        let points = LatencyOutputName.extensionPointLatency
        // Filter grew by 4 in the first bucket; Bind did not grow at all (NaN), not by 100.
        #expect(isClose(report.value(points, ["extension_point": "Filter", "quantile": "0.5"]), 0.0005))
        #expect(report.value(points, ["extension_point": "Bind", "quantile": "0.5"])?.isNaN == true)
    }

    @Test func extensionPointsAreSummedOverProfileAndStatus() {
        var tracker = LatencyTracker()
        let family = "scheduler_framework_extension_point_duration_seconds"
        func poll(_ filterSuccess: Double, _ filterError: Double, _ bind: Double) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: [
                family: .histogram([
                    histogram(["extension_point": "Filter", "profile": "a", "status": "Success"], [(0.001, filterSuccess), (.infinity, filterSuccess)]),
                    histogram(["extension_point": "Filter", "profile": "b", "status": "Error"], [(0.001, 0), (.infinity, filterError)]),
                    histogram(["extension_point": "Bind", "profile": "a", "status": "Success"], [(0.001, 0), (.infinity, bind)]),
                ])
            ])
        }
        tracker.record(poll(0, 0, 0), at: 0)
        tracker.record(poll(3, 1, 5), at: 30)
        let report = tracker.report()
        let points = LatencyOutputName.extensionPointLatency
        // Filter: 0.001:3, +Inf:4; rank 2 -> 0.001 * 2/3
        #expect(isClose(report.value(points, ["extension_point": "Filter", "quantile": "0.5"]), 0.001 * 2 / 3))
        #expect(report.value(points, ["extension_point": "Bind", "quantile": "0.5"]) == 0.001)
        #expect(report.value(LatencyOutputName.sourceInfo, ["kind": "extension_point", "metric": family]) == 1)
    }

    @Test func gaugesAndPreemptionRate() {
        var tracker = LatencyTracker()
        func poll(_ preemptions: Double) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: [
                "scheduler_pending_pods": .scalar([counter(["queue": "active"], 2), counter(["queue": "unschedulable"], 3)]),
                "scheduler_unschedulable_pods": .scalar([counter(["plugin": "NodeAffinity", "profile": "p"], 2), counter(["plugin": "TaintToleration", "profile": "p"], 1)]),
                "scheduler_preemption_attempts_total": .scalar([counter(preemptions)]),
            ])
        }
        tracker.record(poll(10), at: 0)
        tracker.record(poll(16), at: 120)
        let report = tracker.report()
        #expect(report.value(LatencyOutputName.pendingPods, ["queue": "unschedulable"]) == 3)
        #expect(report.value(LatencyOutputName.unschedulablePods) == 3)
        #expect(report.value(LatencyOutputName.unschedulablePodsByPlugin, ["plugin": "NodeAffinity"]) == 2)
        #expect(report.value(LatencyOutputName.unschedulablePodsByPlugin, ["plugin": "TaintToleration"]) == 1)
        #expect(isClose(report.value(LatencyOutputName.preemptionAttemptsRate), 0.05))
    }

    /// Upstream counts a pod once per plugin that rejected it: 2 pods, each rejected by both
    /// NodeAffinity and TaintToleration, are 4 in scheduler_unschedulable_pods and 2 in the queue.
    @Test func unschedulablePodsCountEachPodOnce() {
        var tracker = LatencyTracker()
        tracker.record(SchedulerMetricsInput(families: [
            "scheduler_pending_pods": .scalar([counter(["queue": "active"], 0), counter(["queue": "unschedulable"], 2)]),
            "scheduler_unschedulable_pods": .scalar([
                counter(["plugin": "NodeAffinity", "profile": "a"], 2), counter(["plugin": "TaintToleration", "profile": "a"], 2),
            ]),
        ]), at: 0)
        #expect(tracker.report().value(LatencyOutputName.unschedulablePods) == 2)

        // A healthy cluster: the queue says 0, and a gauge vector without children is not in
        // /metrics at all (client_golang writes no HELP for it either).
        var healthy = LatencyTracker()
        healthy.record(SchedulerMetricsInput(families: [
            "scheduler_pending_pods": .scalar([counter(["queue": "active"], 0), counter(["queue": "unschedulable"], 0)]),
        ]), at: 0)
        #expect(healthy.report().value(LatencyOutputName.unschedulablePods) == 0)
        #expect(healthy.report().family(named: LatencyOutputName.unschedulablePodsByPlugin) == nil)
    }

    @Test func counterResetInRates() {
        var tracker = LatencyTracker()
        func poll(_ value: Double) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: ["scheduler_preemption_attempts_total": .scalar([counter(value)])])
        }
        tracker.record(poll(50), at: 0)
        tracker.record(poll(55), at: 10)
        tracker.record(poll(3), at: 20)  // restart
        // 5 + 3 over 20 s
        #expect(isClose(tracker.report().value(LatencyOutputName.preemptionAttemptsRate), 0.4))
    }

    /// A restarted scheduler that got busier than before within one poll interval: its counters
    /// never went down, so only the new process_start_time_seconds shows the reset. Without it the
    /// increase would be 70 - 60 instead of the 70 the new process counted.
    @Test func newProcessStartTimeIsAResetEvenWhenCountersGrew() {
        var tracker = LatencyTracker()
        func poll(started: Double, attempts: Double, bucket: Double) -> SchedulerMetricsInput {
            SchedulerMetricsInput(families: [
                "process_start_time_seconds": .scalar([counter(started)]),
                "scheduler_schedule_attempts_total": .scalar([counter(scheduled, attempts)]),
                "scheduler_scheduling_algorithm_duration_seconds": .histogram([histogram([:], [(0.1, bucket), (.infinity, bucket)])]),
            ])
        }
        tracker.record(poll(started: 1_000, attempts: 50, bucket: 50), at: 0)
        tracker.record(poll(started: 1_000, attempts: 60, bucket: 60), at: 15)
        tracker.record(poll(started: 1_020, attempts: 70, bucket: 70), at: 30)
        let report = tracker.report()
        // (10 + 70) attempts over 30 s.
        #expect(isClose(report.value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]), 80.0 / 30))
        // All 80 observations lie in the first bucket: the median is inside it, never past it.
        let median = report.value(LatencyOutputName.schedulingLatency, ["kind": "algorithm", "quantile": "0.5"])
        #expect(isClose(median, 0.05))

        // The same counters with one process throughout: an ordinary increase.
        var steady = LatencyTracker()
        steady.record(poll(started: 1_000, attempts: 50, bucket: 50), at: 0)
        steady.record(poll(started: 1_000, attempts: 60, bucket: 60), at: 15)
        steady.record(poll(started: 1_000, attempts: 70, bucket: 70), at: 30)
        #expect(isClose(steady.report().value(LatencyOutputName.scheduleAttemptsRate, ["result": "scheduled"]), 20.0 / 30))
    }

    @Test func newestFamilyWinsWhenDeprecatedOneIsAlsoExported() {
        var tracker = LatencyTracker()
        let input = SchedulerMetricsInput(families: [
            "scheduler_e2e_scheduling_duration_seconds": .histogram([histogram(scheduled, [(0.1, 1), (.infinity, 1)])]),
            attemptFamily: .histogram([histogram(scheduled, [(0.1, 1), (.infinity, 1)])]),
        ])
        tracker.record(input, at: 0)
        let info = tracker.report().family(named: LatencyOutputName.sourceInfo)?.samples ?? []
        #expect(info.map { $0.label("metric") } == [attemptFamily])
    }

    @Test func aSameNamedFamilyOfAnotherTypeIsNoSource() {
        var tracker = LatencyTracker()
        tracker.record(
            SchedulerMetricsInput(families: [attemptFamily: .scalar([counter(3)])]), at: 0)
        #expect(tracker.report().family(named: LatencyOutputName.sourceInfo) == nil)
    }
}
