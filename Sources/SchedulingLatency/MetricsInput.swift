/// The scheduler families one poll yielded, in a parser-independent shape so the math can be
/// tested (and fed) without the text parser. Labels exclude `le` and `quantile`.
public struct SchedulerMetricsInput: Sendable, Equatable {
    public var families: [String: FamilySamples]

    public init(families: [String: FamilySamples] = [:]) {
        self.families = families
    }
}

public enum FamilySamples: Sendable, Equatable {
    case histogram([HistogramSample])
    case summary([SummarySample])
    /// Counters, gauges and untyped samples: only the value matters here.
    case scalar([ScalarSample])
}

public struct HistogramSample: Sendable, Equatable {
    public var labels: [String: String]
    /// Any order; the `+Inf` bucket is required for a quantile (as in PromQL).
    public var buckets: [HistogramBucket]
    public var sum: Double
    public var count: Double

    public init(labels: [String: String] = [:], buckets: [HistogramBucket], sum: Double, count: Double) {
        self.labels = labels
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }
}

public struct SummaryQuantile: Sendable, Equatable {
    public var quantile: Double
    public var value: Double

    public init(quantile: Double, value: Double) {
        self.quantile = quantile
        self.value = value
    }
}

public struct SummarySample: Sendable, Equatable {
    public var labels: [String: String]
    public var quantiles: [SummaryQuantile]
    public var sum: Double
    public var count: Double

    public init(labels: [String: String] = [:], quantiles: [SummaryQuantile], sum: Double, count: Double) {
        self.labels = labels
        self.quantiles = quantiles
        self.sum = sum
        self.count = count
    }
}

public struct ScalarSample: Sendable, Equatable {
    public var labels: [String: String]
    public var value: Double

    public init(labels: [String: String] = [:], value: Double) {
        self.labels = labels
        self.value = value
    }
}
