public struct LatencyLabel: Sendable, Hashable {
    public let name: String
    public let value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct LatencySample: Sendable {
    /// In output order; `target` is not included (the exporter adds it).
    public let labels: [LatencyLabel]
    public let value: Double

    public init(labels: [LatencyLabel], value: Double) {
        self.labels = labels
        self.value = value
    }

    public func label(_ name: String) -> String? {
        labels.first { $0.name == name }?.value
    }
}

/// One output family; all of them are gauges.
public struct LatencyFamily: Sendable {
    public let name: String
    public let help: String
    public let samples: [LatencySample]

    public init(name: String, help: String, samples: [LatencySample]) {
        self.name = name
        self.help = help
        self.samples = samples
    }
}

public struct LatencyReport: Sendable {
    /// Families with at least one sample, in a fixed order.
    public let families: [LatencyFamily]
    /// Times (as recorded) of the two polls the windowed values were computed between;
    /// nil until two polls exist.
    public let windowStart: Double?
    public let windowEnd: Double?

    public init(families: [LatencyFamily], windowStart: Double?, windowEnd: Double?) {
        self.families = families
        self.windowStart = windowStart
        self.windowEnd = windowEnd
    }

    public func family(named name: String) -> LatencyFamily? {
        families.first { $0.name == name }
    }

    /// The value of the sample in `family` whose labels are exactly `labels`.
    public func value(_ family: String, _ labels: [String: String] = [:]) -> Double? {
        guard let found = self.family(named: family) else { return nil }
        for sample in found.samples where sample.labels.count == labels.count {
            if sample.labels.allSatisfy({ labels[$0.name] == $0.value }) { return sample.value }
        }
        return nil
    }
}

public enum LatencyOutputName {
    public static let schedulingLatency = "kube_scheduler_scheduling_latency_seconds"
    public static let extensionPointLatency = "kube_scheduler_extension_point_latency_seconds"
    public static let sourceInfo = "kube_scheduler_latency_source_info"
    public static let scheduleAttemptsRate = "kube_scheduler_schedule_attempts_rate"
    public static let pendingPods = "kube_scheduler_pending_pods"
    public static let unschedulablePods = "kube_scheduler_unschedulable_pods"
    public static let unschedulablePodsByPlugin = "kube_scheduler_unschedulable_pods_by_plugin"
    public static let preemptionAttemptsRate = "kube_scheduler_preemption_attempts_rate"
}

/// Formats a quantile the way Go's `strconv.FormatFloat(q, 'g', -1, 64)` does for the usual
/// values ("0.5", "0.99", "1"), so label values match the scheduler's own summaries.
func quantileLabelValue(_ quantile: Double) -> String {
    if quantile == quantile.rounded(), abs(quantile) < 1e15 {
        return String(Int64(quantile))
    }
    return quantile.description
}
