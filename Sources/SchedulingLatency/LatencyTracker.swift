public struct LatencyTrackerConfiguration: Sendable, Equatable {
    /// Seconds; windowed values use the increase between the oldest poll inside the window and
    /// the newest poll.
    public var window: Double
    /// φ values reported for every latency distribution.
    public var quantiles: [Double]
    /// Upper bound on retained polls, so a short poll interval cannot grow memory without limit;
    /// when hit, the oldest polls go first and the effective window shrinks.
    public var maxRetainedPolls: Int

    public init(window: Double = 300, quantiles: [Double] = [0.5, 0.9, 0.99], maxRetainedPolls: Int = 512) {
        self.window = window
        self.quantiles = quantiles
        self.maxRetainedPolls = max(2, maxRetainedPolls)
    }
}

/// Windowed scheduling latency for one target: feed every successful poll with `record`, read the
/// gauges with `report`. Histogram quantiles equal PromQL's
/// `histogram_quantile(q, sum by (le) (increase over the window))` without extrapolation.
///
/// A value type: the owner (one poller task per target) holds it, so no locking is needed here.
public struct LatencyTracker: Sendable {
    public let configuration: LatencyTrackerConfiguration
    private var polls: [RetainedPoll] = []

    public init(configuration: LatencyTrackerConfiguration = .init()) {
        self.configuration = configuration
    }

    public var retainedPollCount: Int { polls.count }

    /// Adds one poll taken at `time` (seconds, any monotonic-enough clock such as unix time).
    /// A time equal to the newest poll replaces it; an earlier time means the clock went back,
    /// and the history restarts because increases across that jump would be meaningless.
    public mutating func record(_ input: SchedulerMetricsInput, at time: Double) {
        guard time.isFinite else { return }
        if let newest = polls.last {
            if time == newest.time {
                polls.removeLast()
            } else if time < newest.time {
                polls.removeAll()
            }
        }
        polls.append(RetainedPoll(time: time, input: input, sharingStorageWith: polls.last))
        prune()
    }

    private mutating func prune() {
        guard let newest = polls.last else { return }
        let windowStart = newest.time - configuration.window
        // Keep the last poll before the window: it becomes the baseline when the poll interval
        // is longer than the window.
        if let firstInside = polls.firstIndex(where: { $0.time >= windowStart }), firstInside > 1 {
            polls.removeFirst(firstInside - 1)
        }
        if polls.count > configuration.maxRetainedPolls {
            polls.removeFirst(polls.count - configuration.maxRetainedPolls)
        }
    }

    public func report() -> LatencyReport {
        guard let newestIndex = polls.indices.last else {
            return LatencyReport(families: [], windowStart: nil, windowEnd: nil)
        }
        let window = baselineIndex().map { PollWindow(polls: polls[$0...newestIndex]) }
        let newest = polls[newestIndex]

        var latency: [LatencySample] = []
        var extensionPoints: [LatencySample] = []
        var sourceInfo: [LatencySample] = []

        for kind in LatencyKind.allCases {
            guard let (source, shape) = newest.firstPresent(SchedulerSourceCatalog.latencySources(for: kind)) else {
                continue
            }
            sourceInfo.append(Self.sourceInfoSample(kind: kind.rawValue, metric: source.name))
            let kindLabel = LatencyLabel("kind", kind.rawValue)
            switch shape {
            case .histogram:
                guard let window else { continue }
                let all = window.histogramIncrease(source) { _ in "" }
                latency += quantileSamples(all[""], labels: [kindLabel])
                if kind == .attempt {
                    let scheduled = window.histogramIncrease(source) { $0["result"] == "scheduled" ? "" : nil }
                    latency += quantileSamples(
                        scheduled[""], labels: [kindLabel, LatencyLabel("result", "scheduled")])
                }
            case .summary:
                let series = newest.summaries[source.name] ?? []
                // Quantiles of separate summaries cannot be combined; only a lone series is usable.
                guard series.count == 1 else { continue }
                latency += summarySamples(series[0], source: source, labels: [kindLabel])
            case .scalar:
                continue
            }
        }

        if let (source, shape) = newest.firstPresent([SchedulerSourceCatalog.extensionPointFamily]), shape == .histogram {
            sourceInfo.append(Self.sourceInfoSample(kind: "extension_point", metric: source.name))
            if let window {
                let byPoint = window.histogramIncrease(source) { $0["extension_point"] }
                for point in byPoint.keys.sorted() {
                    extensionPoints += quantileSamples(
                        byPoint[point], labels: [LatencyLabel("extension_point", point)])
                }
            }
        } else {
            extensionPoints = legacyExtensionPointSamples(newest: newest, window: window, sourceInfo: &sourceInfo)
        }

        var families: [LatencyFamily] = []
        func add(_ name: String, _ help: String, _ samples: [LatencySample]) {
            if !samples.isEmpty { families.append(LatencyFamily(name: name, help: help, samples: samples)) }
        }
        add(LatencyOutputName.schedulingLatency,
            "Scheduling latency quantile over the window, by kind (attempt, pod_e2e, algorithm).", latency)
        add(LatencyOutputName.extensionPointLatency,
            "Framework extension point latency quantile over the window.", extensionPoints)
        add(LatencyOutputName.sourceInfo,
            "The scheduler metric family that fed each latency kind (differs by Kubernetes version).", sourceInfo)
        add(LatencyOutputName.scheduleAttemptsRate,
            "Scheduling attempts per second over the window, by result.", attemptRates(window))
        add(LatencyOutputName.pendingPods, "Pending pods by scheduling queue.", pendingPods(newest))
        add(LatencyOutputName.unschedulablePods, "Unschedulable pods, summed over plugins.", unschedulablePods(newest))
        add(LatencyOutputName.preemptionAttemptsRate,
            "Preemption attempts per second over the window.", preemptionRate(window, newest: newest))

        return LatencyReport(families: families, windowStart: window?.start, windowEnd: window?.end)
    }

    /// The oldest poll inside the window, or the one just before it when the newest poll is alone
    /// in the window; nil with fewer than two polls.
    private func baselineIndex() -> Int? {
        guard polls.count >= 2, let newest = polls.last else { return nil }
        let windowStart = newest.time - configuration.window
        let firstInside = polls.firstIndex { $0.time >= windowStart } ?? polls.count - 1
        return min(firstInside, polls.count - 2)
    }

    private func quantileSamples(_ buckets: [HistogramBucket]?, labels: [LatencyLabel]) -> [LatencySample] {
        guard let buckets else { return [] }
        return configuration.quantiles.map { quantile in
            LatencySample(
                labels: labels + [LatencyLabel("quantile", quantileLabelValue(quantile))],
                value: bucketQuantile(quantile, buckets))
        }
    }

    private func summarySamples(
        _ summary: SummarySample, source: LatencySourceFamily, labels: [LatencyLabel]
    ) -> [LatencySample] {
        configuration.quantiles.compactMap { quantile in
            guard let match = summary.quantiles.first(where: { abs($0.quantile - quantile) < 1e-9 }) else {
                return nil
            }
            return LatencySample(
                labels: labels + [LatencyLabel("quantile", quantileLabelValue(quantile))],
                value: match.value * source.secondsPerUnit)
        }
    }

    /// Kubernetes <= 1.17 had no framework metric: binding came from its own histogram, the other
    /// steps from an `operation` summary; both are mapped onto today's extension point names.
    private func legacyExtensionPointSamples(
        newest: RetainedPoll, window: PollWindow?, sourceInfo: inout [LatencySample]
    ) -> [LatencySample] {
        var samples: [LatencySample] = []
        var covered = Set<String>()
        if let (source, shape) = newest.firstPresent(SchedulerSourceCatalog.legacyBindingSources) {
            let bindLabel = LatencyLabel("extension_point", "Bind")
            switch shape {
            case .histogram:
                sourceInfo.append(Self.sourceInfoSample(kind: "extension_point", metric: source.name))
                covered.insert("Bind")
                if let window {
                    let all = window.histogramIncrease(source) { _ in "" }
                    samples += quantileSamples(all[""], labels: [bindLabel])
                }
            case .summary:
                if let series = newest.summaries[source.name], series.count == 1 {
                    sourceInfo.append(Self.sourceInfoSample(kind: "extension_point", metric: source.name))
                    covered.insert("Bind")
                    samples += summarySamples(series[0], source: source, labels: [bindLabel])
                }
            case .scalar:
                break
            }
        }
        if let (source, shape) = newest.firstPresent(SchedulerSourceCatalog.legacyOperationSummaries), shape == .summary {
            var used = false
            let series = (newest.summaries[source.name] ?? []).sorted {
                ($0.labels["operation"] ?? "") < ($1.labels["operation"] ?? "")
            }
            for summary in series {
                guard let operation = summary.labels["operation"],
                    let point = SchedulerSourceCatalog.legacyOperationExtensionPoints[operation],
                    !covered.contains(point)
                else { continue }
                covered.insert(point)
                used = true
                samples += summarySamples(summary, source: source, labels: [LatencyLabel("extension_point", point)])
            }
            if used {
                sourceInfo.append(Self.sourceInfoSample(kind: "extension_point", metric: source.name))
            }
        }
        return samples
    }

    private func attemptRates(_ window: PollWindow?) -> [LatencySample] {
        guard let window, window.elapsed > 0 else { return [] }
        let byResult = window.counterIncrease(SchedulerSourceCatalog.scheduleAttemptsFamily) { $0["result"] ?? "" }
        return byResult.keys.sorted().map { result in
            LatencySample(labels: [LatencyLabel("result", result)], value: byResult[result]! / window.elapsed)
        }
    }

    private func preemptionRate(_ window: PollWindow?, newest: RetainedPoll) -> [LatencySample] {
        guard let window, window.elapsed > 0,
            let family = SchedulerSourceCatalog.preemptionAttemptsFamilies.first(where: { newest.scalars[$0] != nil })
        else { return [] }
        let total = window.counterIncrease(family) { _ in "" }[""] ?? 0
        return [LatencySample(labels: [], value: total / window.elapsed)]
    }

    private func pendingPods(_ newest: RetainedPoll) -> [LatencySample] {
        guard let series = newest.scalars[SchedulerSourceCatalog.pendingPodsFamily] else { return [] }
        var byQueue: [String: Double] = [:]
        for (labels, value) in series { byQueue[labels["queue"] ?? "", default: 0] += value }
        return byQueue.keys.sorted().map { LatencySample(labels: [LatencyLabel("queue", $0)], value: byQueue[$0]!) }
    }

    /// Present whenever the scheduler declares the family, 0 when no plugin reports a pod.
    private func unschedulablePods(_ newest: RetainedPoll) -> [LatencySample] {
        guard let series = newest.scalars[SchedulerSourceCatalog.unschedulablePodsFamily] else { return [] }
        return [LatencySample(labels: [], value: series.values.reduce(0, +))]
    }

    private static func sourceInfoSample(kind: String, metric: String) -> LatencySample {
        LatencySample(labels: [LatencyLabel("kind", kind), LatencyLabel("metric", metric)], value: 1)
    }
}

enum FamilyShape: Sendable { case histogram, summary, scalar }

/// One poll reduced to the families the tracker reads, indexed by label set.
struct RetainedPoll: Sendable {
    let time: Double
    var histograms: [String: [[String: String]: HistogramSample]] = [:]
    var summaries: [String: [SummarySample]] = [:]
    var scalars: [String: [[String: String]: Double]] = [:]

    /// Identical label dictionaries are taken from `previous` so that a long history shares one
    /// copy of each label string instead of one per poll.
    init(time: Double, input: SchedulerMetricsInput, sharingStorageWith previous: RetainedPoll?) {
        self.time = time
        for (name, samples) in input.families where SchedulerSourceCatalog.allFamilyNames.contains(name) {
            switch samples {
            case .histogram(let series):
                let earlier = previous?.histograms[name]
                var indexed: [[String: String]: HistogramSample] = [:]
                for var sample in series {
                    if let earlier, let index = earlier.index(forKey: sample.labels) {
                        sample.labels = earlier[index].key
                    }
                    // Duplicate label sets are malformed input; the first one wins.
                    if indexed[sample.labels] == nil { indexed[sample.labels] = sample }
                }
                histograms[name] = indexed
            case .summary(let series):
                summaries[name] = series
            case .scalar(let series):
                let earlier = previous?.scalars[name]
                var indexed: [[String: String]: Double] = [:]
                for var sample in series {
                    if let earlier, let index = earlier.index(forKey: sample.labels) {
                        sample.labels = earlier[index].key
                    }
                    indexed[sample.labels, default: 0] += sample.value
                }
                scalars[name] = indexed
            }
        }
    }

    func shape(of name: String) -> FamilyShape? {
        if histograms[name] != nil { return .histogram }
        if summaries[name] != nil { return .summary }
        if scalars[name] != nil { return .scalar }
        return nil
    }

    /// The first source present as a histogram or summary; a same-named family of another type
    /// (malformed or foreign) is not a latency source.
    func firstPresent(_ sources: [LatencySourceFamily]) -> (LatencySourceFamily, FamilyShape)? {
        for source in sources {
            if let shape = shape(of: source.name), shape != .scalar { return (source, shape) }
        }
        return nil
    }
}

/// The polls from the baseline to the newest, and increases between them.
struct PollWindow {
    let polls: ArraySlice<RetainedPoll>

    var start: Double { polls.first!.time }
    var end: Double { polls.last!.time }
    var elapsed: Double { end - start }

    /// Per group key (nil from `group` drops the series): the summed bucket increase from the
    /// baseline to the newest poll, bounds converted to seconds. Only series present in the newest
    /// poll count (as with `x - x offset W`); a series absent at the baseline counts from zero; a
    /// counter reset (the count or any bucket going down) starts a new segment whose post-reset
    /// value is its increase, as `increase()` does.
    func histogramIncrease(
        _ source: LatencySourceFamily, group: ([String: String]) -> String?
    ) -> [String: [HistogramBucket]] {
        guard let newestSeries = polls.last!.histograms[source.name] else { return [:] }
        var byGroup: [String: [Double: Double]] = [:]
        for labels in newestSeries.keys {
            guard let key = group(labels) else { continue }
            var last = polls.first!.histograms[source.name]?[labels]
            var increase: [Double: Double] = [:]
            for poll in polls.dropFirst() {
                guard let current = poll.histograms[source.name]?[labels] else { continue }
                Self.addIncrease(from: last, to: current, into: &increase)
                last = current
            }
            var groupCounts = byGroup[key] ?? [:]
            for (bound, count) in increase { groupCounts[bound, default: 0] += count }
            byGroup[key] = groupCounts
        }
        return byGroup.mapValues { counts in
            counts.map { HistogramBucket(upperBound: $0.key * source.secondsPerUnit, cumulativeCount: $0.value) }
        }
    }

    /// Per group key: the summed counter increase, with the same series and reset rules.
    func counterIncrease(_ family: String, group: ([String: String]) -> String?) -> [String: Double] {
        guard let newestSeries = polls.last!.scalars[family] else { return [:] }
        var byGroup: [String: Double] = [:]
        for labels in newestSeries.keys {
            guard let key = group(labels) else { continue }
            var last = polls.first!.scalars[family]?[labels]
            var increase = 0.0
            for poll in polls.dropFirst() {
                guard let current = poll.scalars[family]?[labels] else { continue }
                if let previous = last, current >= previous {
                    increase += current - previous
                } else {
                    increase += current
                }
                last = current
            }
            byGroup[key, default: 0] += increase
        }
        return byGroup
    }

    private static func addIncrease(from previous: HistogramSample?, to current: HistogramSample, into increase: inout [Double: Double]) {
        guard let previous else {
            for bucket in current.buckets { increase[bucket.upperBound, default: 0] += bucket.cumulativeCount }
            return
        }
        // Fast path for the usual case of an unchanged bucket layout: no per-poll dictionary.
        if previous.buckets.count == current.buckets.count,
            zip(previous.buckets, current.buckets).allSatisfy({ $0.upperBound == $1.upperBound })
        {
            let reset = current.count < previous.count
                || zip(previous.buckets, current.buckets).contains { $1.cumulativeCount < $0.cumulativeCount }
            for (before, after) in zip(previous.buckets, current.buckets) {
                increase[after.upperBound, default: 0] +=
                    reset ? after.cumulativeCount : after.cumulativeCount - before.cumulativeCount
            }
            return
        }
        let previousCounts = countsByBound(previous)
        let reset = isReset(from: previous, previousCounts, to: current)
        for bucket in current.buckets {
            increase[bucket.upperBound, default: 0] +=
                reset ? bucket.cumulativeCount : bucket.cumulativeCount - (previousCounts[bucket.upperBound] ?? 0)
        }
    }

    private static func countsByBound(_ sample: HistogramSample) -> [Double: Double] {
        Dictionary(sample.buckets.map { ($0.upperBound, $0.cumulativeCount) }, uniquingKeysWith: { first, _ in first })
    }

    /// A whole histogram restarts together, so one decreasing bucket marks a reset of all of them;
    /// Prometheus judges each `le` series alone, which differs only when some bucket happens to be
    /// higher after a restart than before it.
    private static func isReset(from previous: HistogramSample, _ previousCounts: [Double: Double], to current: HistogramSample) -> Bool {
        if current.count < previous.count { return true }
        for bucket in current.buckets {
            if let before = previousCounts[bucket.upperBound], bucket.cumulativeCount < before { return true }
        }
        return false
    }
}
