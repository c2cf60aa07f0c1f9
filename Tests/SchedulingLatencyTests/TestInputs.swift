@testable import SchedulingLatency

/// Builds a histogram sample from cumulative (upper bound, count) pairs; count is the +Inf bucket.
func histogram(_ labels: [String: String] = [:], _ pairs: [(Double, Double)], sum: Double = 0) -> HistogramSample {
    HistogramSample(
        labels: labels,
        buckets: pairs.map { HistogramBucket(upperBound: $0.0, cumulativeCount: $0.1) },
        sum: sum,
        count: pairs.first { $0.0 == .infinity }?.1 ?? 0)
}

func counter(_ labels: [String: String], _ value: Double) -> ScalarSample {
    ScalarSample(labels: labels, value: value)
}

func isClose(_ a: Double?, _ b: Double, tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}

extension LatencyReport {
    func latency(_ kind: String, _ quantile: String, result: String? = nil) -> Double? {
        var labels = ["kind": kind, "quantile": quantile]
        if let result { labels["result"] = result }
        return value(LatencyOutputName.schedulingLatency, labels)
    }
}

func counter(_ value: Double) -> ScalarSample {
    ScalarSample(labels: [:], value: value)
}
