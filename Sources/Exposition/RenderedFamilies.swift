/// Families rendered ahead of time as text-format lines in one byte array: what a target
/// publishes after each poll. Holding a few hundred samples as label arrays and strings cost
/// ~100 KB per target in small allocations; the rendered lines cost about a fifth of that, and a
/// page is then assembled by copying byte ranges. OpenMetrics lines differ from text lines only
/// by a `.0` on integral values for most families, so they are derived from the text lines
/// while a page is assembled; only the families whose lines differ otherwise (sample names of
/// info, stateset, gauge histograms and counters without `_total`, or timestamps) keep their
/// own OpenMetrics lines.
public struct RenderedFamilies: Sendable {
    /// One family: its header facts and where its sample lines are in each format's bytes.
    public struct Entry: Sendable {
        public let name: String
        let help: String
        let type: MetricType
        let unit: String?
        let textLines: Range<Int>
        /// nil: derived from `textLines`.
        let openMetricsLines: Range<Int>?

        /// The header as `ExpositionWriter` writes it (the samples are not needed for it).
        var header: OutputFamily { OutputFamily(name: name, help: help, type: type, unit: unit) }
    }

    public let entries: [Entry]
    let text: [UInt8]
    let openMetrics: [UInt8]

    /// Merges same-named families as `ExpositionWriter.render` does and renders their samples.
    /// Invalid names stop the process, as with `render`.
    public init(_ families: [OutputFamily]) {
        var text: [UInt8] = []
        var openMetrics: [UInt8] = []
        var entries: [Entry] = []
        for family in ExpositionWriter.merge(families) {
            let problems = ExpositionWriter.problems(in: family)
            precondition(problems.isEmpty, "RenderedFamilies: \(problems.joined(separator: "; "))")
            let textStart = text.count
            ExpositionWriter.writeSamples(family, format: .prometheusText, into: &text)
            var openMetricsLines: Range<Int>?
            if !Self.openMetricsLinesFollowFromText(family) {
                let openMetricsStart = openMetrics.count
                ExpositionWriter.writeSamples(family, format: .openMetrics, into: &openMetrics)
                openMetricsLines = openMetricsStart..<openMetrics.count
            }
            entries.append(Entry(
                name: family.name, help: family.help, type: family.type, unit: family.unit,
                textLines: textStart..<text.count, openMetricsLines: openMetricsLines))
        }
        self.entries = entries
        // Exact-size copies: appending left up to twice the needed capacity, kept for a whole
        // poll interval on every target (`Array(bytes[...])` would hand back the same buffer).
        self.text = Self.exactCopy(text)
        self.openMetrics = Self.exactCopy(openMetrics)
    }

    private static func exactCopy(_ bytes: [UInt8]) -> [UInt8] {
        // With capacity 0 the standard library writes the count into its shared empty-array
        // storage, which ThreadSanitizer reports as a race with every other empty array.
        guard !bytes.isEmpty else { return [] }
        return [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
            initialized = bytes.withUnsafeBufferPointer { buffer.initialize(fromContentsOf: $0) }
        }
    }

    /// Whether a family's OpenMetrics sample lines are its text lines with `.0` on integral values:
    /// the same sample names in both formats (see `appendSampleName`) and no timestamps.
    static func openMetricsLinesFollowFromText(_ family: OutputFamily) -> Bool {
        let sameNames = switch family.type {
        case .gauge, .untyped, .unknown, .histogram, .summary: true
        case .counter: family.name.hasSuffix("_total")
        case .info, .stateset, .gaugehistogram: false
        }
        return sameNames && family.samples.allSatisfy { $0.timestampMs == nil }
    }

    func appendLines(of entry: Entry, format: ExpositionFormat, into buffer: inout [UInt8]) {
        switch format {
        case .prometheusText:
            buffer.append(contentsOf: text[entry.textLines])
        case .openMetrics:
            if let own = entry.openMetricsLines {
                buffer.append(contentsOf: openMetrics[own])
            } else {
                Self.appendOpenMetrics(fromText: text[entry.textLines], into: &buffer)
            }
        }
    }

    /// Copies `name{labels} value` lines, adding the `.0` OpenMetrics gives integral values: a
    /// value Go's formatting wrote without `.` or exponent that is not NaN or an infinity.
    static func appendOpenMetrics(fromText lines: ArraySlice<UInt8>, into buffer: inout [UInt8]) {
        var lineStart = lines.startIndex
        while lineStart < lines.endIndex {
            let lineEnd = lines[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? lines.endIndex
            // No timestamps here and label values escape newlines, so the value is the last token.
            let valueStart = (lines[lineStart..<lineEnd].lastIndex(of: UInt8(ascii: " ")) ?? lineStart - 1) + 1
            buffer.append(contentsOf: lines[lineStart..<lineEnd])
            let integral = !lines[valueStart..<lineEnd].contains {
                $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "N") || $0 == UInt8(ascii: "I")
            }
            if integral && valueStart < lineEnd { buffer.append(contentsOf: ".0".utf8) }
            buffer.append(UInt8(ascii: "\n"))
            lineStart = lineEnd + 1
        }
    }

    /// Bytes held, for sizing a page.
    var byteCount: Int { text.count + openMetrics.count }
}

extension ExpositionWriter {
    /// Writes `parts` as one exposition: families with the same name across parts are merged
    /// (the first part's header wins; lines follow in part order) and written sorted by name,
    /// byte for byte what `render` gives for the concatenated families.
    public static func render(_ parts: [RenderedFamilies], format: ExpositionFormat, into buffer: inout [UInt8], terminate: Bool = true) {
        var order: [String] = []
        var holders: [String: [(part: Int, entry: Int)]] = [:]
        for (partIndex, part) in parts.enumerated() {
            for (entryIndex, entry) in part.entries.enumerated() {
                if holders[entry.name] == nil { order.append(entry.name) }
                holders[entry.name, default: []].append((partIndex, entryIndex))
            }
        }
        buffer.reserveCapacity(buffer.count + parts.reduce(0) { $0 + $1.byteCount / 2 } + order.count * 160)
        for name in order.sorted() {
            let holding = holders[name]!
            let first = parts[holding[0].part].entries[holding[0].entry]
            writeHeader(first.header, format: format, into: &buffer)
            for (partIndex, entryIndex) in holding {
                let part = parts[partIndex]
                part.appendLines(of: part.entries[entryIndex], format: format, into: &buffer)
            }
        }
        if format == .openMetrics && terminate { buffer.append(contentsOf: "# EOF\n".utf8) }
    }
}
