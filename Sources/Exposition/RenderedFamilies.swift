/// Families rendered ahead of time, in both formats, as one byte array per format: what a target
/// publishes after each poll. Holding a few hundred samples as label arrays and strings cost
/// ~100 KB per target in small allocations; the rendered lines cost about a third of that, and a
/// page is then assembled by copying byte ranges.
public struct RenderedFamilies: Sendable {
    /// One family: its header facts and where its sample lines are in each format's bytes.
    public struct Entry: Sendable {
        public let name: String
        let help: String
        let type: MetricType
        let unit: String?
        let textLines: Range<Int>
        let openMetricsLines: Range<Int>

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
            let openMetricsStart = openMetrics.count
            ExpositionWriter.writeSamples(family, format: .prometheusText, into: &text)
            ExpositionWriter.writeSamples(family, format: .openMetrics, into: &openMetrics)
            entries.append(Entry(
                name: family.name, help: family.help, type: family.type, unit: family.unit,
                textLines: textStart..<text.count, openMetricsLines: openMetricsStart..<openMetrics.count))
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

    func lines(of entry: Entry, format: ExpositionFormat) -> ArraySlice<UInt8> {
        switch format {
        case .prometheusText: text[entry.textLines]
        case .openMetrics: openMetrics[entry.openMetricsLines]
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
                buffer.append(contentsOf: part.lines(of: part.entries[entryIndex], format: format))
            }
        }
        if format == .openMetrics && terminate { buffer.append(contentsOf: "# EOF\n".utf8) }
    }
}
