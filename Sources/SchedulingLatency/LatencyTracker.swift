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
        if !polls.isEmpty { polls[polls.count - 1].forgetNewestOnlyFamilies() }
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
        add(LatencyOutputName.unschedulablePods,
            "Pods in the scheduler's unschedulable queue (scheduler_pending_pods{queue=\"unschedulable\"}), each counted once; 0 on a healthy cluster.",
            unschedulablePods(newest))
        add(LatencyOutputName.unschedulablePodsByPlugin,
            "Unschedulable pods by the plugin that rejected them, summed over profiles (scheduler_unschedulable_pods); a pod rejected by several plugins counts once under each, so the sum over plugins can exceed the number of pods.",
            unschedulablePodsByPlugin(newest))
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
        for sample in series { byQueue[sample.labels["queue"] ?? "", default: 0] += sample.value }
        return byQueue.keys.sorted().map { LatencySample(labels: [LatencyLabel("queue", $0)], value: byQueue[$0]!) }
    }

    /// From the queue rather than the per-plugin family: upstream counts a pod once per plugin
    /// that rejected it, and on a healthy cluster exports no plugin series at all, while the
    /// queue gauge is always there, 0 included.
    private func unschedulablePods(_ newest: RetainedPoll) -> [LatencySample] {
        guard let series = newest.scalars[SchedulerSourceCatalog.pendingPodsFamily] else { return [] }
        let queued = series.filter { $0.labels["queue"] == "unschedulable" }
        guard !queued.isEmpty else { return [] }
        return [LatencySample(labels: [], value: queued.reduce(0) { $0 + $1.value })]
    }

    private func unschedulablePodsByPlugin(_ newest: RetainedPoll) -> [LatencySample] {
        guard let series = newest.scalars[SchedulerSourceCatalog.unschedulablePodsFamily] else { return [] }
        var byPlugin: [String: Double] = [:]
        for sample in series { byPlugin[sample.labels["plugin"] ?? "", default: 0] += sample.value }
        return byPlugin.keys.sorted().map { LatencySample(labels: [LatencyLabel("plugin", $0)], value: byPlugin[$0] ?? 0) }
    }

    private static func sourceInfoSample(kind: String, metric: String) -> LatencySample {
        LatencySample(labels: [LatencyLabel("kind", kind), LatencyLabel("metric", metric)], value: 1)
    }
}

enum FamilyShape: Sendable { case histogram, summary, scalar }

/// A retained series, found by its label set.
protocol LabelledSeries {
    var labels: [String: String] { get }
}

extension Array where Element: LabelledSeries {
    /// Position of each label set (the first, for malformed duplicates).
    var indexByLabels: [[String: String]: Int] {
        Dictionary(enumerated().map { ($1.labels, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The series with `labels`, looked up at `hint` first: a scheduler writes its series in the
    /// same order every poll, so the position in the newest poll almost always matches.
    func series(labels: [String: String], hint: Int) -> Element? {
        if indices.contains(hint), self[hint].labels == labels { return self[hint] }
        return first { $0.labels == labels }
    }
}

/// One histogram series of one poll. `labels` and `bounds` are shared with the same series of the
/// previous poll (same array buffers), so a long history costs one `counts` array per poll.
struct RetainedHistogram: Sendable, LabelledSeries {
    let labels: [String: String]
    /// Upper bounds in input order (duplicates kept: PromQL sums equal bounds).
    let bounds: [Double]
    /// Cumulative counts aligned with `bounds`.
    let counts: [Double]
    let count: Double
}

struct RetainedScalar: Sendable, LabelledSeries {
    let labels: [String: String]
    let value: Double
}

/// One poll reduced to the families the tracker reads, as flat arrays: the tracker keeps ~20 of
/// these per target, so per-series dictionaries and bucket structs would be most of the
/// exporter's memory at 100 targets.
struct RetainedPoll: Sendable {
    let time: Double
    var histograms: [String: [RetainedHistogram]] = [:]
    /// Read from the newest poll only; dropped from older ones (`forgetNewestOnlyFamilies`).
    var summaries: [String: [SummarySample]] = [:]
    var scalars: [String: [RetainedScalar]] = [:]

    /// Families only the newest poll is read for (summaries carry their own quantiles; gauges).
    static let newestOnlyScalarFamilies: Set<String> = [
        SchedulerSourceCatalog.pendingPodsFamily, SchedulerSourceCatalog.unschedulablePodsFamily,
    ]

    init(time: Double, input: SchedulerMetricsInput, sharingStorageWith previous: RetainedPoll?) {
        self.time = time
        for (name, samples) in input.families where SchedulerSourceCatalog.allFamilyNames.contains(name) {
            switch samples {
            case .histogram(let series):
                let earlier = previous?.histograms[name]?.indexByLabels ?? [:]
                let earlierSeries = previous?.histograms[name] ?? []
                var seen = Set<[String: String]>()
                var retained: [RetainedHistogram] = []
                retained.reserveCapacity(series.count)
                for sample in series {
                    // Duplicate label sets are malformed input; the first one wins.
                    guard seen.insert(sample.labels).inserted else { continue }
                    var labels = sample.labels
                    var bounds = sample.buckets.map(\.upperBound)
                    if let index = earlier[sample.labels] {
                        labels = earlierSeries[index].labels
                        if earlierSeries[index].bounds == bounds { bounds = earlierSeries[index].bounds }
                    }
                    retained.append(RetainedHistogram(
                        labels: labels, bounds: bounds, counts: sample.buckets.map(\.cumulativeCount), count: sample.count))
                }
                histograms[name] = retained
            case .summary(let series):
                summaries[name] = series
            case .scalar(let series):
                let earlier = previous?.scalars[name]?.indexByLabels ?? [:]
                let earlierSeries = previous?.scalars[name] ?? []
                // Duplicate label sets are summed.
                var indexByLabels: [[String: String]: Int] = [:]
                var labelsInOrder: [[String: String]] = []
                var values: [Double] = []
                for sample in series {
                    if let index = indexByLabels[sample.labels] {
                        values[index] += sample.value
                        continue
                    }
                    indexByLabels[sample.labels] = values.count
                    labelsInOrder.append(earlier[sample.labels].map { earlierSeries[$0].labels } ?? sample.labels)
                    values.append(sample.value)
                }
                scalars[name] = zip(labelsInOrder, values).map { RetainedScalar(labels: $0, value: $1) }
            }
        }
    }

    /// Once a newer poll exists, the families read from the newest poll only are dead weight.
    mutating func forgetNewestOnlyFamilies() {
        summaries = [:]
        for name in Self.newestOnlyScalarFamilies { scalars[name] = nil }
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

    func histogram(_ name: String, labels: [String: String], hint: Int) -> RetainedHistogram? {
        histograms[name]?.series(labels: labels, hint: hint)
    }

    func scalar(_ name: String, labels: [String: String], hint: Int) -> Double? {
        scalars[name]?.series(labels: labels, hint: hint)?.value
    }

    var processStartTime: Double? { scalars[SchedulerSourceCatalog.processStartTimeFamily]?.first?.value }

    /// Another process answered `later` than this poll: everything it counts started from zero.
    func restarted(before later: RetainedPoll) -> Bool {
        guard let before = processStartTime, let after = later.processStartTime else { return false }
        return before != after
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
    /// counter reset (the count or any bucket going down, or a new process_start_time_seconds)
    /// starts a new segment whose post-reset value is its increase, as `increase()` does.
    func histogramIncrease(
        _ source: LatencySourceFamily, group: ([String: String]) -> String?
    ) -> [String: [HistogramBucket]] {
        guard let newestSeries = polls.last!.histograms[source.name] else { return [:] }
        var byGroup: [String: [Double: Double]] = [:]
        for (position, newest) in newestSeries.enumerated() {
            guard let key = group(newest.labels) else { continue }
            var last = polls.first!.histogram(source.name, labels: newest.labels, hint: position)
            var lastPoll = polls.first!
            var increase: [Double: Double] = [:]
            for poll in polls.dropFirst() {
                guard let current = poll.histogram(source.name, labels: newest.labels, hint: position) else { continue }
                Self.addIncrease(from: lastPoll.restarted(before: poll) ? nil : last, to: current, into: &increase)
                last = current
                lastPoll = poll
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
        for (position, newest) in newestSeries.enumerated() {
            guard let key = group(newest.labels) else { continue }
            var last = polls.first!.scalar(family, labels: newest.labels, hint: position)
            var lastPoll = polls.first!
            var increase = 0.0
            for poll in polls.dropFirst() {
                guard let current = poll.scalar(family, labels: newest.labels, hint: position) else { continue }
                if let previous = last, current >= previous, !lastPoll.restarted(before: poll) {
                    increase += current - previous
                } else {
                    increase += current
                }
                last = current
                lastPoll = poll
            }
            byGroup[key, default: 0] += increase
        }
        return byGroup
    }

    private static func addIncrease(
        from previous: RetainedHistogram?, to current: RetainedHistogram, into increase: inout [Double: Double]
    ) {
        guard let previous else {
            for (bound, count) in zip(current.bounds, current.counts) { increase[bound, default: 0] += count }
            return
        }
        // Fast path for the usual case of an unchanged bucket layout: no per-poll dictionary.
        if previous.bounds == current.bounds {
            let reset = current.count < previous.count
                || zip(previous.counts, current.counts).contains { $1 < $0 }
            for index in current.bounds.indices {
                increase[current.bounds[index], default: 0] +=
                    reset ? current.counts[index] : current.counts[index] - previous.counts[index]
            }
            return
        }
        let previousCounts = Dictionary(zip(previous.bounds, previous.counts), uniquingKeysWith: { first, _ in first })
        let reset = isReset(from: previous, previousCounts, to: current)
        for (bound, count) in zip(current.bounds, current.counts) {
            increase[bound, default: 0] += reset ? count : count - (previousCounts[bound] ?? 0)
        }
    }

    /// A whole histogram restarts together, so one decreasing bucket marks a reset of all of them;
    /// Prometheus judges each `le` series alone, which differs only when some bucket happens to be
    /// higher after a restart than before it.
    private static func isReset(
        from previous: RetainedHistogram, _ previousCounts: [Double: Double], to current: RetainedHistogram
    ) -> Bool {
        if current.count < previous.count { return true }
        for (bound, count) in zip(current.bounds, current.counts) {
            if let before = previousCounts[bound], count < before { return true }
        }
        return false
    }
}
