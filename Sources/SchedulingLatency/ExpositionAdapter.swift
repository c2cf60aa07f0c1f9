import Exposition

extension SchedulerMetricsInput {
    /// Parse options that keep only the families the tracker reads, for callers that parse a
    /// body just for latency.
    public static var parseOptions: ParseOptions {
        ParseOptions(lenient: true, families: SchedulerSourceCatalog.allFamilyNames)
    }

    /// The tracker's families from a parsed /metrics body. A family announced by HELP/TYPE without
    /// samples is kept (empty), so "present" follows what the scheduler declares.
    public init(document: ExpositionDocument) {
        var families: [String: FamilySamples] = [:]
        for name in SchedulerSourceCatalog.allFamilyNames {
            guard let family = document.family(named: name) else { continue }
            switch family.type {
            case .histogram, .gaugehistogram:
                families[name] = .histogram(family.histograms().map(HistogramSample.init(series:)))
            case .summary:
                families[name] = .summary(family.summaries().map(SummarySample.init(series:)))
            case .counter, .gauge, .untyped, .unknown:
                let samples = family.samples.filter { $0.suffix == .none || $0.suffix == .total }
                families[name] = .scalar(samples.map { ScalarSample(labels: dictionary($0.labels), value: $0.value) })
            case .info, .stateset:
                continue
            }
        }
        self.init(families: families)
    }
}

extension HistogramSample {
    init(series: HistogramSeries) {
        let buckets = series.buckets.map { HistogramBucket(upperBound: $0.upperBound, cumulativeCount: $0.cumulativeCount) }
        self.init(
            labels: dictionary(series.labels),
            buckets: buckets,
            sum: series.sum ?? .nan,
            count: series.count ?? buckets.first { $0.upperBound == .infinity }?.cumulativeCount ?? 0)
    }
}

extension SummarySample {
    init(series: SummarySeries) {
        self.init(
            labels: dictionary(series.labels),
            quantiles: series.quantiles.map { SummaryQuantile(quantile: $0.quantile, value: $0.value) },
            sum: series.sum ?? .nan,
            count: series.count ?? 0)
    }
}

/// Duplicate label names are malformed; the first one wins.
private func dictionary(_ labels: [Label]) -> [String: String] {
    var result: [String: String] = [:]
    for label in labels where result[label.name] == nil { result[label.name] = label.value }
    return result
}

extension LatencyTracker {
    /// Records a parsed /metrics body.
    public mutating func record(_ document: ExpositionDocument, at time: Double) {
        record(SchedulerMetricsInput(document: document), at: time)
    }
}

extension LatencyReport {
    static let quantileFamilies: Set<String> = [LatencyOutputName.schedulingLatency, LatencyOutputName.extensionPointLatency]

    /// The report as families for the writer; the exporter adds `target` and static labels. The
    /// quantile families are typed summary: a `quantile` label is what a summary carries, and
    /// promtool (rightly) flags it on a gauge. They have no _sum/_count: only quantiles.
    public var outputFamilies: [OutputFamily] {
        families.map { family in
            OutputFamily(
                name: family.name, help: family.help,
                type: Self.quantileFamilies.contains(family.name) ? .summary : .gauge,
                samples: family.samples.map { sample in
                    OutputSample(labels: sample.labels.map { (name: $0.name, value: $0.value) }, value: sample.value)
                })
        }
    }
}
