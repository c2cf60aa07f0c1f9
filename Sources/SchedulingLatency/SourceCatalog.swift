/// Which latency distribution an output series describes.
public enum LatencyKind: String, Sendable, CaseIterable {
    /// One scheduling attempt (algorithm + binding).
    case attempt
    /// A pod from entering the queue until bound, across attempts.
    case podE2E = "pod_e2e"
    /// The scheduling algorithm alone (filter + score).
    case algorithm
}

/// A scheduler family that can feed a latency output, and how to read it in seconds.
public struct LatencySourceFamily: Sendable, Hashable {
    public let name: String
    /// Multiplier to seconds: 1e-6 for the `_microseconds` families of Kubernetes <= 1.13.
    public let secondsPerUnit: Double

    public init(name: String, secondsPerUnit: Double = 1) {
        self.name = name
        self.secondsPerUnit = secondsPerUnit
    }
}

/// Scheduler metric names across Kubernetes releases, newest first in each list: the first family
/// present in a poll wins, so a 1.26 scheduler that exports both the new and the deprecated
/// family is read from the new one.
public enum SchedulerSourceCatalog {
    public static func latencySources(for kind: LatencyKind) -> [LatencySourceFamily] {
        switch kind {
        case .attempt:
            return [
                .init(name: "scheduler_scheduling_attempt_duration_seconds"),  // 1.23+
                .init(name: "scheduler_e2e_scheduling_duration_seconds"),  // 1.14-1.26
                .init(name: "scheduler_e2e_scheduling_latency_microseconds", secondsPerUnit: 1e-6),  // <= 1.13
            ]
        case .podE2E:
            return [
                .init(name: "scheduler_pod_scheduling_sli_duration_seconds"),  // 1.29+
                .init(name: "scheduler_pod_scheduling_duration_seconds"),  // 1.17-1.32
            ]
        case .algorithm:
            return [
                .init(name: "scheduler_scheduling_algorithm_duration_seconds"),  // 1.14+
                .init(name: "scheduler_scheduling_algorithm_latency_microseconds", secondsPerUnit: 1e-6),  // <= 1.13
            ]
        }
    }

    /// Per framework extension point, labels `extension_point`, `profile`, `status` (1.18+).
    public static let extensionPointFamily = LatencySourceFamily(
        name: "scheduler_framework_extension_point_duration_seconds")

    /// Before the framework, binding had its own histogram (a summary in the earliest releases).
    public static let legacyBindingSources: [LatencySourceFamily] = [
        .init(name: "scheduler_binding_duration_seconds"),  // 1.14-1.19
        .init(name: "scheduler_binding_latency_microseconds", secondsPerUnit: 1e-6),  // <= 1.13
    ]

    /// Summaries with an `operation` label (predicate/priority/preemption evaluation, binding).
    public static let legacyOperationSummaries: [LatencySourceFamily] = [
        .init(name: "scheduler_scheduling_duration_seconds"),  // 1.14-1.18
        .init(name: "scheduler_scheduling_latency_seconds"),  // <= 1.13
    ]

    /// The pre-framework operations mapped to the extension point that does the same work today,
    /// so one `extension_point` label means the same on every release.
    public static let legacyOperationExtensionPoints: [String: String] = [
        "predicate_evaluation": "Filter",
        "priority_evaluation": "Score",
        "preemption_evaluation": "PostFilter",
        "binding": "Bind",
    ]

    public static let scheduleAttemptsFamily = "scheduler_schedule_attempts_total"
    public static let pendingPodsFamily = "scheduler_pending_pods"
    public static let unschedulablePodsFamily = "scheduler_unschedulable_pods"
    public static let preemptionAttemptsFamilies = [
        "scheduler_preemption_attempts_total",  // 1.17+
        "scheduler_total_preemption_attempts",  // <= 1.16
    ]

    /// A changed value between two polls is a restart even when the counters grew past their old
    /// values meanwhile (a busy scheduler does within one poll interval), which `rate`'s
    /// "went down" rule alone cannot see.
    public static let processStartTimeFamily = "process_start_time_seconds"

    /// Every family the tracker reads; everything else in a poll is dropped on record.
    public static let allFamilyNames: Set<String> = {
        var names = Set<String>()
        for kind in LatencyKind.allCases {
            for source in latencySources(for: kind) { names.insert(source.name) }
        }
        names.insert(extensionPointFamily.name)
        for source in legacyBindingSources { names.insert(source.name) }
        for source in legacyOperationSummaries { names.insert(source.name) }
        names.insert(scheduleAttemptsFamily)
        names.insert(pendingPodsFamily)
        names.insert(unschedulablePodsFamily)
        for name in preemptionAttemptsFamilies { names.insert(name) }
        names.insert(processStartTimeFamily)
        return names
    }()
}
