import Foundation

/// A deterministic generator (SplitMix64) so a given seed always produces the same load.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The /metrics body in `--load` mode: the captured lines verbatim except the scheduling histograms and
/// attempt counters, which grow by a few seeded observations per tick with buckets, `_sum` and `_count`
/// kept consistent. A configured restart tick zeroes them once, as a scheduler restart would.
struct MetricsLoad: Sendable {
    /// How many observations a growth rule gets per tick.
    enum Share: Sendable { case scheduled, unschedulable, attempted }

    struct HistogramRule: Sendable {
        var family: String
        var labels: [String: String]
        var share: Share
        /// Median of the log-normal observation distribution, in seconds.
        var medianSeconds: Double
    }

    struct CounterRule: Sendable {
        var name: String
        var labels: [String: String]
        var share: Share
    }

    static let histogramRules: [HistogramRule] = [
        .init(family: "scheduler_scheduling_attempt_duration_seconds",
              labels: ["profile": "default-scheduler", "result": "scheduled"], share: .scheduled, medianSeconds: 0.006),
        .init(family: "scheduler_scheduling_attempt_duration_seconds",
              labels: ["profile": "default-scheduler", "result": "unschedulable"], share: .unschedulable,
              medianSeconds: 0.0002),
        .init(family: "scheduler_pod_scheduling_sli_duration_seconds",
              labels: ["attempts": "1"], share: .scheduled, medianSeconds: 0.008),
        .init(family: "scheduler_scheduling_algorithm_duration_seconds",
              labels: [:], share: .attempted, medianSeconds: 0.0002),
        .init(family: "scheduler_framework_extension_point_duration_seconds",
              labels: ["extension_point": "PreFilter", "profile": "default-scheduler", "status": "Success"],
              share: .attempted, medianSeconds: 0.00004),
        .init(family: "scheduler_framework_extension_point_duration_seconds",
              labels: ["extension_point": "Filter", "profile": "default-scheduler", "status": "Success"],
              share: .attempted, medianSeconds: 0.00005),
        .init(family: "scheduler_framework_extension_point_duration_seconds",
              labels: ["extension_point": "Score", "profile": "default-scheduler", "status": "Success"],
              share: .scheduled, medianSeconds: 0.00004),
        .init(family: "scheduler_framework_extension_point_duration_seconds",
              labels: ["extension_point": "Bind", "profile": "default-scheduler", "status": "Success"],
              share: .scheduled, medianSeconds: 0.007),
        .init(family: "scheduler_framework_extension_point_duration_seconds",
              labels: ["extension_point": "PostFilter", "profile": "default-scheduler", "status": "Unschedulable"],
              share: .unschedulable, medianSeconds: 0.00006),
    ]

    static let counterRules: [CounterRule] = [
        .init(name: "scheduler_schedule_attempts_total",
              labels: ["profile": "default-scheduler", "result": "scheduled"], share: .scheduled),
        .init(name: "scheduler_schedule_attempts_total",
              labels: ["profile": "default-scheduler", "result": "unschedulable"], share: .unschedulable),
    ]

    struct Histogram: Sendable {
        var rule: HistogramRule
        var bucketBounds: [Double]
        var bucketLines: [Int]
        var sumLine: Int
        var countLine: Int
        var buckets: [Double]
        var sum: Double
        var count: Double
    }

    struct Counter: Sendable {
        var rule: CounterRule
        var line: Int
        var value: Double
    }

    private let body: [UInt8]
    /// Byte range of each line (without its newline) and where its value starts.
    private let lineRanges: [Range<Int>]
    private let valueStarts: [Int]
    private(set) var histograms: [Histogram] = []
    private(set) var counters: [Counter] = []
    /// Every counter and histogram sample line (the grown ones too): a restarted process starts
    /// all of them from zero, not only those the load grows.
    private var cumulativeLines: [Int] = []
    private var replacedLines: [Int: String] = [:]
    private var generator: SplitMix64
    private let restartAtTick: Int?
    private let tickSeconds: Double
    private let startTimeLine: Int?
    private let baseStartTime: Double?
    private(set) var tick = 0
    private(set) var processStartTime: Double?

    init(body: [UInt8], seed: UInt64, restartAtTick: Int?, tickSeconds: Double) {
        self.body = body
        self.generator = SplitMix64(seed: seed)
        self.restartAtTick = restartAtTick
        self.tickSeconds = tickSeconds
        var ranges: [Range<Int>] = []
        var start = 0
        for (index, byte) in body.enumerated() where byte == UInt8(ascii: "\n") {
            ranges.append(start..<index)
            start = index + 1
        }
        if start < body.count { ranges.append(start..<body.count) }
        lineRanges = ranges
        valueStarts = ranges.map { range in
            var index = range.upperBound
            while index > range.lowerBound, body[index - 1] != UInt8(ascii: " ") { index -= 1 }
            return index
        }

        var histogramsByKey: [String: Histogram] = [:]
        var histogramOrder: [String] = []
        var foundStartLine: Int?
        var foundStartTime: Double?
        var cumulativeNames = Set<String>()
        for (lineIndex, range) in ranges.enumerated() {
            let line = String(decoding: body[range], as: UTF8.self)
            if line.hasPrefix("# TYPE ") {
                let fields = line.split(separator: " ")
                if fields.count == 4, fields[3] == "counter" { cumulativeNames.insert(String(fields[2])) }
                if fields.count == 4, fields[3] == "histogram" {
                    for suffix in ["_bucket", "_sum", "_count"] { cumulativeNames.insert(String(fields[2]) + suffix) }
                }
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            guard let sample = Self.parseSample(line) else { continue }
            if cumulativeNames.contains(sample.name) { cumulativeLines.append(lineIndex) }
            if sample.name == "process_start_time_seconds", sample.labels.isEmpty {
                foundStartLine = lineIndex
                foundStartTime = sample.value
            }
            for rule in Self.counterRules where rule.name == sample.name && rule.labels == sample.labels {
                counters.append(Counter(rule: rule, line: lineIndex, value: sample.value))
            }
            for rule in Self.histogramRules {
                var labels = sample.labels
                let bound = labels.removeValue(forKey: "le")
                guard labels == rule.labels else { continue }
                let key = "\(rule.family)|\(labels.sorted(by: { $0.key < $1.key }))"
                var histogram = histogramsByKey[key] ?? Histogram(
                    rule: rule, bucketBounds: [], bucketLines: [], sumLine: -1, countLine: -1, buckets: [], sum: 0,
                    count: 0)
                switch sample.name {
                case rule.family + "_bucket":
                    guard let bound, let le = Self.parseValue(bound) else { continue }
                    histogram.bucketBounds.append(le)
                    histogram.bucketLines.append(lineIndex)
                    histogram.buckets.append(sample.value)
                case rule.family + "_sum":
                    histogram.sumLine = lineIndex
                    histogram.sum = sample.value
                case rule.family + "_count":
                    histogram.countLine = lineIndex
                    histogram.count = sample.value
                default:
                    continue
                }
                if histogramsByKey[key] == nil { histogramOrder.append(key) }
                histogramsByKey[key] = histogram
            }
        }
        histograms = histogramOrder.compactMap { histogramsByKey[$0] }.filter {
            $0.sumLine >= 0 && $0.countLine >= 0 && !$0.bucketLines.isEmpty
        }
        startTimeLine = foundStartLine
        baseStartTime = foundStartTime
        processStartTime = foundStartTime
    }

    /// Advances one tick: a few pods scheduled (1-4) and now and then one unschedulable attempt.
    mutating func advance() {
        tick += 1
        if tick == restartAtTick {
            restart()
            return
        }
        let scheduled = Int(generator.next() % 4) + 1
        let unschedulable = generator.next() % 10 < 3 ? 1 : 0
        func observations(_ share: Share) -> Int {
            switch share {
            case .scheduled: return scheduled
            case .unschedulable: return unschedulable
            case .attempted: return scheduled + unschedulable
            }
        }
        for index in histograms.indices {
            for _ in 0..<observations(histograms[index].rule.share) {
                let value = sampleLogNormal(median: histograms[index].rule.medianSeconds)
                observe(value, histogram: index)
            }
            render(histogram: index)
        }
        for index in counters.indices {
            counters[index].value += Double(observations(counters[index].rule.share))
            setLine(counters[index].line, value: counters[index].value)
        }
    }

    private mutating func observe(_ value: Double, histogram index: Int) {
        for bucket in histograms[index].bucketBounds.indices where value <= histograms[index].bucketBounds[bucket] {
            histograms[index].buckets[bucket] += 1
        }
        histograms[index].sum += value
        histograms[index].count += 1
    }

    /// A restarted scheduler starts its counters from zero and reports a new process start time.
    private mutating func restart() {
        for line in cumulativeLines { setLine(line, value: 0) }
        for index in histograms.indices {
            histograms[index].buckets = histograms[index].buckets.map { _ in 0 }
            histograms[index].sum = 0
            histograms[index].count = 0
            render(histogram: index)
        }
        for index in counters.indices {
            counters[index].value = 0
            setLine(counters[index].line, value: 0)
        }
        if let startTimeLine, let baseStartTime {
            let restarted = (baseStartTime + Double(tick) * tickSeconds).rounded(.down)
            processStartTime = restarted
            setLine(startTimeLine, value: restarted)
        }
    }

    private mutating func render(histogram index: Int) {
        let histogram = histograms[index]
        for (line, value) in zip(histogram.bucketLines, histogram.buckets) { setLine(line, value: value) }
        setLine(histogram.sumLine, value: histogram.sum)
        setLine(histogram.countLine, value: histogram.count)
    }

    private mutating func setLine(_ line: Int, value: Double) {
        let prefix = String(decoding: body[lineRanges[line].lowerBound..<valueStarts[line]], as: UTF8.self)
        replacedLines[line] = prefix + GoFloatFormat.format(value)
    }

    private mutating func sampleLogNormal(median: Double) -> Double {
        // Box-Muller on two uniform draws in (0, 1].
        let u1 = (Double(generator.next() >> 11) + 1) / 9_007_199_254_740_992.0
        let u2 = Double(generator.next() >> 11) / 9_007_199_254_740_992.0
        let normal = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return median * exp(0.6 * normal)
    }

    func renderBody() -> [UInt8] {
        if replacedLines.isEmpty { return body }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 4096)
        for (index, range) in lineRanges.enumerated() {
            if let replacement = replacedLines[index] {
                out.append(contentsOf: replacement.utf8)
            } else {
                out.append(contentsOf: body[range])
            }
            if range.upperBound < body.count { out.append(UInt8(ascii: "\n")) }
        }
        return out
    }

    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses `name{a="b",...} value` (no timestamps appear in the captures).
    static func parseSample(_ line: String) -> Sample? {
        guard let lastSpace = line.lastIndex(of: " "), let value = parseValue(line[line.index(after: lastSpace)...])
        else { return nil }
        let series = line[..<lastSpace]
        guard let brace = series.firstIndex(of: "{") else {
            return Sample(name: String(series), labels: [:], value: value)
        }
        guard series.last == "}" else { return nil }
        var labels: [String: String] = [:]
        var rest = series[series.index(after: brace)..<series.index(before: series.endIndex)]
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let name = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            rest = rest[rest.index(after: equals)...]
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            var labelValue = ""
            var escaped = false
            var closed = false
            while let character = rest.first {
                rest = rest.dropFirst()
                if escaped {
                    labelValue.append(character == "n" ? "\n" : character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    closed = true
                    break
                } else {
                    labelValue.append(character)
                }
            }
            guard closed else { return nil }
            labels[name] = labelValue
            if rest.first == "," { rest = rest.dropFirst() }
        }
        return Sample(name: String(series[..<brace]), labels: labels, value: value)
    }

    static func parseValue<S: StringProtocol>(_ text: S) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(String(text))
        }
    }
}
