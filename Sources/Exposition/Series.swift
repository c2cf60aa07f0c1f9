/// One histogram series: the labels other than `le` (sorted by name), buckets sorted by upper
/// bound, and `_sum`/`_count` when present.
public struct HistogramSeries: Sendable {
    public var labels: [Label]
    public var buckets: [(upperBound: Double, cumulativeCount: Double)]
    public var sum: Double?
    public var count: Double?

    public init(labels: [Label], buckets: [(upperBound: Double, cumulativeCount: Double)], sum: Double? = nil, count: Double? = nil) {
        self.labels = labels
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }

    /// The label value for `name`, if present.
    public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }
}

/// One summary series: the labels other than `quantile` (sorted by name), quantiles in text
/// order, and `_sum`/`_count` when present.
public struct SummarySeries: Sendable {
    public var labels: [Label]
    public var quantiles: [(quantile: Double, value: Double)]
    public var sum: Double?
    public var count: Double?

    public init(labels: [Label], quantiles: [(quantile: Double, value: Double)], sum: Double? = nil, count: Double? = nil) {
        self.labels = labels
        self.quantiles = quantiles
        self.sum = sum
        self.count = count
    }

    public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }
}

// Tuples keep the API shape callers expect (`for (bound, count) in buckets`); equality is
// written out because tuple arrays cannot synthesize it.
extension HistogramSeries: Equatable {
    public static func == (a: HistogramSeries, b: HistogramSeries) -> Bool {
        labelsEqual(a.labels, b.labels) && a.sum.bitwiseEqual(b.sum) && a.count.bitwiseEqual(b.count)
            && a.buckets.count == b.buckets.count
            && zip(a.buckets, b.buckets).allSatisfy { $0.upperBound == $1.upperBound && $0.cumulativeCount.bitPattern == $1.cumulativeCount.bitPattern }
    }
}

extension SummarySeries: Equatable {
    public static func == (a: SummarySeries, b: SummarySeries) -> Bool {
        labelsEqual(a.labels, b.labels) && a.sum.bitwiseEqual(b.sum) && a.count.bitwiseEqual(b.count)
            && a.quantiles.count == b.quantiles.count
            && zip(a.quantiles, b.quantiles).allSatisfy { $0.quantile == $1.quantile && $0.value.bitPattern == $1.value.bitPattern }
    }
}

/// Label lists are equal when they hold the same pairs in the same order.
public func labelsEqual(_ a: [Label], _ b: [Label]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.value == $1.value }
}

extension Optional where Wrapped == Double {
    fileprivate func bitwiseEqual(_ other: Double?) -> Bool {
        switch (self, other) {
        case (nil, nil): true
        case let (a?, b?): a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN)
        default: false
        }
    }
}

extension MetricFamily {
    /// Histogram series grouped by the label set minus `le`, in order of first appearance.
    /// Buckets whose `le` is missing or not a number are left out. Works for any family type:
    /// `_bucket`, `_sum`/`_gsum` and `_count`/`_gcount` samples are used, others ignored.
    public func histograms() -> [HistogramSeries] {
        var series: [HistogramSeries] = []
        var indexByKey: [String: Int] = [:]
        for sample in samples {
            let part: HistogramPart
            switch sample.suffix {
            case .bucket:
                guard let bound = sample.label("le").flatMap(parseExpositionFloat) else { continue }
                part = .bucket(bound)
            case .sum, .gsum: part = .sum
            case .count, .gcount: part = .count
            default: continue
            }
            let (key, labels) = groupKey(sample, excluding: "le")
            let index: Int
            if let existing = indexByKey[key] {
                index = existing
            } else {
                index = series.count
                indexByKey[key] = index
                series.append(HistogramSeries(labels: labels, buckets: []))
            }
            switch part {
            case .bucket(let bound): series[index].buckets.append((bound, sample.value))
            case .sum: series[index].sum = sample.value
            case .count: series[index].count = sample.value
            }
        }
        for index in series.indices {
            // Stable, so that equal bounds keep text order.
            series[index].buckets = series[index].buckets.enumerated()
                .sorted { ($0.element.upperBound, $0.offset) < ($1.element.upperBound, $1.offset) }
                .map(\.element)
        }
        return series
    }

    /// Summary series grouped by the label set minus `quantile`, in order of first appearance.
    public func summaries() -> [SummarySeries] {
        var series: [SummarySeries] = []
        var indexByKey: [String: Int] = [:]
        for sample in samples {
            var quantile: Double?
            switch sample.suffix {
            case .none:
                guard let parsed = sample.label("quantile").flatMap(parseExpositionFloat) else { continue }
                quantile = parsed
            case .sum, .count: break
            default: continue
            }
            let (key, labels) = groupKey(sample, excluding: "quantile")
            let index: Int
            if let existing = indexByKey[key] {
                index = existing
            } else {
                index = series.count
                indexByKey[key] = index
                series.append(SummarySeries(labels: labels, quantiles: []))
            }
            if let quantile {
                series[index].quantiles.append((quantile, sample.value))
            } else if sample.suffix == .sum {
                series[index].sum = sample.value
            } else {
                series[index].count = sample.value
            }
        }
        return series
    }

    private enum HistogramPart { case bucket(Double), sum, count }

    private func groupKey(_ sample: Sample, excluding excluded: String) -> (String, [Label]) {
        let labels = sample.labels.filter { $0.name != excluded }.sorted { $0.name < $1.name }
        var key = ""
        for label in labels {
            key += label.name
            key += "\u{0}"
            key += label.value
            key += "\u{0}"
        }
        return (key, labels)
    }
}

/// Parses a float from text with the exposition's rules (`+Inf`, `1e+06`, ...).
public func parseExpositionFloat(_ text: String) -> Double? {
    var text = text
    return text.withUTF8 { buffer in
        guard let base = buffer.baseAddress else { return nil }
        return parseFloat(base, buffer.count)
    }
}
