/// One sample to render. `suffix` is appended to the family name (`""`, `"_bucket"`, `"_sum"`,
/// `"_count"`, `"_created"`, ...).
public struct OutputSample: Sendable {
    public var suffix: String
    public var labels: [Label]
    public var value: Double
    public var timestampMs: Int64?

    public init(suffix: String = "", labels: [Label] = [], value: Double, timestampMs: Int64? = nil) {
        self.suffix = suffix
        self.labels = labels
        self.value = value
        self.timestampMs = timestampMs
    }
}

/// A family to render. `name` is the name as the text format shows it, so a counter is named
/// `x_total` and an info metric `x_info`; OpenMetrics output derives the family name `x`.
public struct OutputFamily: Sendable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var unit: String?
    public var samples: [OutputSample]

    public init(name: String, help: String, type: MetricType, unit: String? = nil, samples: [OutputSample] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.unit = unit
        self.samples = samples
    }
}

public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text format 0.0.4.
    case prometheusText
    /// OpenMetrics text 1.0.0.
    case openMetrics

    public var contentType: String {
        switch self {
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// OpenMetrics only when `accept` lists `application/openmetrics-text` (no version, 0.0.1
    /// or 1.0.0) with q > 0 and a q not lower than that of `text/plain`; text otherwise.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheusText }
        var openMetricsQuality = 0.0
        var textQuality = 0.0
        for range in accept.split(separator: ",") {
            let parameters = range.split(separator: ";").map { $0.trimmingBlanks() }
            guard let mediaType = parameters.first?.lowercased() else { continue }
            var quality = 1.0
            var version: Substring?
            for parameter in parameters.dropFirst() {
                guard let equals = parameter.firstIndex(of: "=") else { continue }
                let key = parameter[..<equals].trimmingBlanks().lowercased()
                var value = parameter[parameter.index(after: equals)...].trimmingBlanks()
                if value.count >= 2 && value.first == "\"" && value.last == "\"" { value = value.dropFirst().dropLast() }
                if key == "q" {
                    quality = Double(value).map { min(max($0, 0), 1) } ?? 0
                } else if key == "version" {
                    version = value
                }
            }
            if mediaType == "application/openmetrics-text" {
                if version == nil || version == "0.0.1" || version == "1.0.0" {
                    openMetricsQuality = max(openMetricsQuality, quality)
                }
            } else if mediaType == "text/plain" {
                textQuality = max(textQuality, quality)
            }
        }
        return openMetricsQuality > 0 && openMetricsQuality >= textQuality ? .openMetrics : .prometheusText
    }
}

extension Substring {
    fileprivate func trimmingBlanks() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

/// Renders our own families. Families with the same name are merged (the first one's HELP,
/// TYPE and UNIT win; samples are concatenated in input order) and written sorted by name.
///
/// Invalid metric names, suffixes or label names are programmer errors and stop the process
/// with a precondition failure naming the culprit. Names that come from outside (config,
/// passthrough) must be checked first with `isValidMetricName` / `isValidLabelName` or
/// `problems(in:)`.
public struct ExpositionWriter: Sendable {
    public static func render(_ families: [OutputFamily], format: ExpositionFormat, into buffer: inout [UInt8], terminate: Bool = true) {
        let merged = merge(families)
        for family in merged {
            let problems = problems(in: family)
            precondition(problems.isEmpty, "ExpositionWriter: \(problems.joined(separator: "; "))")
            write(family, format: format, into: &buffer)
        }
        if format == .openMetrics && terminate { buffer.append(contentsOf: "# EOF\n".utf8) }
    }

    public static func render(_ families: [OutputFamily], format: ExpositionFormat, terminate: Bool = true) -> [UInt8] {
        var buffer: [UInt8] = []
        render(families, format: format, into: &buffer, terminate: terminate)
        return buffer
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isNameStart(first) else { return false }
        return name.utf8.allSatisfy(isNameChar)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLabelNameStart(first) else { return false }
        return name.utf8.allSatisfy(isLabelNameChar)
    }

    /// What `render` would refuse in `family`; empty when it is fine.
    public static func problems(in family: OutputFamily) -> [String] {
        var problems: [String] = []
        if !isValidMetricName(family.name) { problems.append("invalid metric name '\(family.name)'") }
        if let unit = family.unit, !unit.utf8.allSatisfy(isNameChar) { problems.append("invalid unit '\(unit)' for \(family.name)") }
        for sample in family.samples {
            if !sample.suffix.utf8.allSatisfy(isNameChar) {
                problems.append("invalid suffix '\(sample.suffix)' for \(family.name)")
            }
            for (index, label) in sample.labels.enumerated() {
                if !isValidLabelName(label.name) {
                    problems.append("invalid label name '\(label.name)' in \(family.name)")
                } else if sample.labels[..<index].contains(where: { $0.name == label.name }) {
                    problems.append("duplicate label name '\(label.name)' in \(family.name)")
                }
            }
        }
        return problems
    }

    static func merge(_ families: [OutputFamily]) -> [OutputFamily] {
        var merged: [OutputFamily] = []
        var indexByName: [String: Int] = [:]
        for family in families {
            if let index = indexByName[family.name] {
                merged[index].samples.append(contentsOf: family.samples)
            } else {
                indexByName[family.name] = merged.count
                merged.append(family)
            }
        }
        // Names are ASCII once valid, so String ordering is byte ordering.
        return merged.sorted { $0.name < $1.name }
    }

    private static func write(_ family: OutputFamily, format: ExpositionFormat, into buffer: inout [UInt8]) {
        writeHeader(family, format: format, into: &buffer)
        writeSamples(family, format: format, into: &buffer)
    }

    /// The name OpenMetrics gives the family, and the suffix it puts on every plain sample.
    private static func openMetricsNames(_ family: OutputFamily) -> (familyName: String, impliedSuffix: String) {
        var familyName = family.name
        switch family.type {
        case .counter:
            if familyName.hasSuffix("_total") { familyName.removeLast(6) }
            return (familyName, "_total")
        case .info:
            if familyName.hasSuffix("_info") { familyName.removeLast(5) }
            return (familyName, "_info")
        default:
            return (familyName, "")
        }
    }

    static func writeHeader(_ family: OutputFamily, format: ExpositionFormat, into buffer: inout [UInt8]) {
        let openMetrics = format == .openMetrics
        let familyName = openMetrics ? openMetricsNames(family).familyName : family.name
        if !family.help.isEmpty {
            buffer.append(contentsOf: "# HELP ".utf8)
            buffer.append(contentsOf: familyName.utf8)
            buffer.append(UInt8(ascii: " "))
            appendEscaped(family.help, escapingQuotes: openMetrics, to: &buffer)
            buffer.append(UInt8(ascii: "\n"))
        }
        buffer.append(contentsOf: "# TYPE ".utf8)
        buffer.append(contentsOf: familyName.utf8)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: typeName(family.type, format: format).utf8)
        buffer.append(UInt8(ascii: "\n"))
        if openMetrics, let unit = family.unit, !unit.isEmpty {
            buffer.append(contentsOf: "# UNIT ".utf8)
            buffer.append(contentsOf: familyName.utf8)
            buffer.append(UInt8(ascii: " "))
            buffer.append(contentsOf: unit.utf8)
            buffer.append(UInt8(ascii: "\n"))
        }
    }

    static func writeSamples(_ family: OutputFamily, format: ExpositionFormat, into buffer: inout [UInt8]) {
        let openMetrics = format == .openMetrics
        let (familyName, impliedSuffix) = openMetrics ? openMetricsNames(family) : (family.name, "")
        for sample in family.samples {
            appendSampleName(family: family, familyName: familyName, impliedSuffix: impliedSuffix, sample.suffix, format: format, to: &buffer)
            if !sample.labels.isEmpty {
                buffer.append(UInt8(ascii: "{"))
                for (index, label) in sample.labels.enumerated() {
                    if index > 0 { buffer.append(UInt8(ascii: ",")) }
                    buffer.append(contentsOf: label.name.utf8)
                    buffer.append(contentsOf: "=\"".utf8)
                    appendEscaped(label.value, escapingQuotes: true, to: &buffer)
                    buffer.append(UInt8(ascii: "\""))
                }
                buffer.append(UInt8(ascii: "}"))
            }
            buffer.append(UInt8(ascii: " "))
            if openMetrics {
                appendOpenMetricsFloat(sample.value, to: &buffer)
            } else {
                appendGoFloat(sample.value, to: &buffer)
            }
            if let timestamp = sample.timestampMs {
                buffer.append(UInt8(ascii: " "))
                if openMetrics {
                    appendMillisecondsAsSeconds(timestamp, to: &buffer)
                } else {
                    buffer.append(contentsOf: String(timestamp).utf8)
                }
            }
            buffer.append(UInt8(ascii: "\n"))
        }
    }

    private static func appendSampleName(family: OutputFamily, familyName: String, impliedSuffix: String, _ suffix: String, format: ExpositionFormat, to buffer: inout [UInt8]) {
        var suffix = suffix
        if format == .prometheusText && family.type == .gaugehistogram {
            // Text 0.0.4 has no gauge histogram; it is written as a histogram.
            if suffix == "_gsum" { suffix = "_sum" } else if suffix == "_gcount" { suffix = "_count" }
        }
        if format == .openMetrics && !impliedSuffix.isEmpty {
            buffer.append(contentsOf: familyName.utf8)
            buffer.append(contentsOf: (suffix.isEmpty ? impliedSuffix : suffix).utf8)
            return
        }
        if family.type == .counter && !suffix.isEmpty && family.name.hasSuffix("_total") {
            // `x_total` + `_created` is `x_created`.
            buffer.append(contentsOf: family.name.utf8.dropLast(6))
        } else {
            buffer.append(contentsOf: family.name.utf8)
        }
        buffer.append(contentsOf: suffix.utf8)
    }

    private static func typeName(_ type: MetricType, format: ExpositionFormat) -> String {
        switch format {
        case .openMetrics:
            type == .untyped ? "unknown" : type.rawValue
        case .prometheusText:
            switch type {
            case .counter, .gauge, .histogram, .summary, .untyped: type.rawValue
            case .info, .stateset: "gauge"
            case .gaugehistogram: "histogram"
            case .unknown: "untyped"
            }
        }
    }

    /// Label values escape `\`, `"` and newline; text-format HELP escapes only `\` and newline.
    private static func appendEscaped(_ text: String, escapingQuotes: Bool, to buffer: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): buffer.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\"") where escapingQuotes: buffer.append(contentsOf: "\\\"".utf8)
            default: buffer.append(byte)
            }
        }
    }

    /// Go's OpenMetrics writer: like the text format, but integral values keep a `.0`.
    private static func appendOpenMetricsFloat(_ value: Double, to buffer: inout [UInt8]) {
        let start = buffer.count
        appendGoFloat(value, to: &buffer)
        guard value.isFinite else { return }
        if !buffer[start...].contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") }) {
            buffer.append(contentsOf: ".0".utf8)
        }
    }

    /// OpenMetrics timestamps are seconds; milliseconds are written exactly as a decimal.
    private static func appendMillisecondsAsSeconds(_ milliseconds: Int64, to buffer: inout [UInt8]) {
        let negative = milliseconds < 0
        let magnitude = milliseconds.magnitude
        if negative { buffer.append(UInt8(ascii: "-")) }
        buffer.append(contentsOf: String(magnitude / 1000).utf8)
        let fraction = magnitude % 1000
        if fraction != 0 {
            var digits = String(fraction)
            while digits.count < 3 { digits = "0" + digits }
            while digits.hasSuffix("0") { digits.removeLast() }
            buffer.append(UInt8(ascii: "."))
            buffer.append(contentsOf: digits.utf8)
        }
    }
}
