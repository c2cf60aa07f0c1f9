/// A parsed exposition: owns the body bytes and an index of families and samples into them.
public struct ExpositionDocument: Sendable {
    let storage: DocumentStorage
    /// Lines skipped in lenient mode, in body order; always empty in strict mode.
    public let errors: [ParseError]

    /// Parses `bytes`. Strict mode (the default) throws the first malformed line.
    public init(bytes: [UInt8], options: ParseOptions = .init()) throws(ParseError) {
        // The parser relies on a final newline; only a body without one is copied to add it.
        let padded: [UInt8]? = bytes.last == UInt8(ascii: "\n") || bytes.isEmpty ? nil : bytes + [UInt8(ascii: "\n")]
        let outcome = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { classes in
            CharacterClass.fill(classes)
            return (padded ?? bytes).withUnsafeBufferPointer { body -> Result<(Parser?, [ParseError]), ParseError> in
                guard let base = body.baseAddress, body.count > 0 else { return .success((nil, [])) }
                var parser = Parser(base: base, count: body.count, bodyCount: bytes.count, classes: UnsafePointer(classes.baseAddress!), options: options)
                do throws(ParseError) {
                    try parser.run()
                } catch {
                    return .failure(error)
                }
                return .success((parser, parser.errors))
            }
        }
        switch outcome {
        case .failure(let error):
            throw error
        case .success((let parser, let errors)):
            self.errors = errors
            storage = DocumentStorage(
                bytes: bytes,
                samples: parser?.samples ?? [],
                families: parser?.families ?? [],
                nameTable: parser?.nameTable ?? NameIndexTable(expected: 0))
        }
    }

    /// The body as given.
    public var bytes: [UInt8] { storage.bytes }

    /// The selected families in body order. Families announced by HELP/TYPE without samples
    /// are included (with no samples).
    public var families: [MetricFamily] {
        storage.selected.map { MetricFamily(storage: storage, index: $0) }
    }

    /// Number of selected families, without building them.
    public var familyCount: Int { storage.selected.count }

    /// Number of stored samples over all selected families.
    public var sampleCount: Int { storage.samples.count }

    public func family(named name: String) -> MetricFamily? {
        storage.familyIndex(named: name).map { MetricFamily(storage: storage, index: $0) }
    }
}

public struct MetricFamily: Sendable {
    public var name: String
    public var type: MetricType
    /// HELP text with escapes decoded; nil when there is no HELP line.
    public var help: String?
    public var unit: String?
    /// The family's lines verbatim in `ExpositionDocument.bytes`: from its first HELP/TYPE/UNIT
    /// line or sample through the end (including `\n`) of its last line. Ordinary comments and
    /// (in lenient mode) skipped malformed lines between those lines are part of the range.
    public var byteRange: Range<Int>
    public var samples: SampleCollection
    /// 1-based line where the family starts.
    public var firstLine: Int

    init(storage: DocumentStorage, index: Int) {
        let record = storage.families[index]
        name = storage.string(record.nameStart, record.nameEnd)
        type = record.type
        help = record.helpStart >= 0 ? storage.decodedHelp(record.helpStart, record.helpEnd) : nil
        unit = record.unitStart >= 0 ? storage.string(record.unitStart, record.unitEnd) : nil
        byteRange = record.byteStart..<record.byteEnd
        samples = SampleCollection(storage: storage, range: record.samplesStart..<record.samplesEnd)
        firstLine = record.firstLine
    }
}

/// The samples of one family, in body order; indices start at 0.
public struct SampleCollection: RandomAccessCollection, Sendable {
    let storage: DocumentStorage
    let range: Range<Int>

    public var startIndex: Int { 0 }
    public var endIndex: Int { range.count }

    public subscript(position: Int) -> Sample {
        precondition(position >= 0 && position < range.count, "sample index out of range")
        return Sample(storage: storage, record: storage.samples[range.lowerBound + position])
    }
}

/// One sample. Holds a reference to the document's storage and byte offsets into the body;
/// names and labels are decoded only when asked for.
public struct Sample: Sendable {
    public var value: Double
    public var timestampMs: Int64?
    let storage: DocumentStorage
    let record: SampleRecord

    init(storage: DocumentStorage, record: SampleRecord) {
        self.storage = storage
        self.record = record
        value = record.value
        timestampMs = record.flags & SampleRecord.hasTimestamp != 0 ? record.timestampMs : nil
    }

    /// The full sample name, e.g. `foo_bucket`. Allocates.
    public var name: String { storage.string(Int(record.nameStart), Int(record.nameEnd)) }

    public var suffix: SampleSuffix { record.suffix }

    /// The raw label block between `{` and `}` in the body (empty without labels).
    public var labelBytes: Range<Int> { Int(record.labelsStart)..<Int(record.labelsEnd) }

    /// The value of label `name` with escapes decoded, or nil when the sample has no such label.
    public func label(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { query in
            storage.bytes.withUnsafeBufferPointer { body in
                guard let value = findLabel(query, in: body) else { return nil }
                return decodeLabelValue(body, value)
            }
        }
    }

    /// Whether label `name` has exactly `value`, without allocating.
    public func hasLabel(_ name: String, equalTo value: String) -> Bool {
        var name = name
        var value = value
        return name.withUTF8 { query in
            value.withUTF8 { expected in
                storage.bytes.withUnsafeBufferPointer { body in
                    guard let raw = findLabel(query, in: body) else { return false }
                    if record.flags & SampleRecord.labelsHaveEscapes == 0 {
                        if raw.count == expected.count
                            && (raw.isEmpty || bytesEqual(body.baseAddress! + raw.lowerBound, expected.baseAddress!, raw.count)) {
                            return true
                        }
                        // `label(_:)` reads invalid UTF-8 as U+FFFD; compare against what it returns so
                        // that `hasLabel(n, equalTo: label(n)!)` holds for every body.
                        // An ASCII `expected` can only match equal raw bytes, so the common case stays a memcmp.
                        return expected.contains { $0 >= 0x80 } && body[raw].contains { $0 >= 0x80 }
                            && decodeLabelValue(body, raw).utf8.elementsEqual(expected)
                    }
                    return decodeLabelValue(body, raw).utf8.elementsEqual(expected)
                }
            }
        }
    }

    /// All labels in text order with escapes decoded.
    public var labels: [Label] {
        storage.bytes.withUnsafeBufferPointer { body in
            var result: [Label] = []
            var cursor = LabelCursor(body: body, start: Int(record.labelsStart), end: Int(record.labelsEnd))
            while let (name, value) = cursor.next() {
                result.append((
                    name: String(decoding: UnsafeBufferPointer(rebasing: body[name]), as: UTF8.self),
                    value: decodeLabelValue(body, value)))
            }
            return result
        }
    }

    /// The full sample name as bytes of the body, without allocating. The buffer is valid only
    /// inside `body`.
    public func withNameBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try storage.bytes.withUnsafeBufferPointer { text in
            try body(UnsafeBufferPointer(rebasing: text[Int(record.nameStart)..<Int(record.nameEnd)]))
        }
    }

    /// Calls `body` with each label's name and escape-decoded value as bytes, in text order,
    /// without building a String per pair: what a consumer that matches or hashes labels needs.
    /// The buffers are valid only inside `body`.
    public func forEachLabel(_ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        let hasEscapes = record.flags & SampleRecord.labelsHaveEscapes != 0
        try storage.bytes.withUnsafeBufferPointer { text in
            var cursor = LabelCursor(body: text, start: Int(record.labelsStart), end: Int(record.labelsEnd))
            // Only a value with a backslash is copied, into one buffer reused for the sample.
            var decoded: [UInt8] = []
            while let (name, value) = cursor.next() {
                let raw = UnsafeBufferPointer(rebasing: text[value])
                let nameBytes = UnsafeBufferPointer(rebasing: text[name])
                if hasEscapes && raw.contains(UInt8(ascii: "\\")) {
                    decoded.removeAll(keepingCapacity: true)
                    unescape(raw, into: &decoded)
                    try decoded.withUnsafeBufferPointer { try body(nameBytes, $0) }
                } else {
                    try body(nameBytes, raw)
                }
            }
        }
    }

    private func findLabel(_ query: UnsafeBufferPointer<UInt8>, in body: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var cursor = LabelCursor(body: body, start: Int(record.labelsStart), end: Int(record.labelsEnd))
        while let (name, value) = cursor.next() {
            if name.count == query.count && (query.isEmpty || bytesEqual(body.baseAddress! + name.lowerBound, query.baseAddress!, query.count)) {
                return value
            }
        }
        return nil
    }

    private func decodeLabelValue(_ body: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        let raw = UnsafeBufferPointer(rebasing: body[range])
        if record.flags & SampleRecord.labelsHaveEscapes == 0 { return String(decoding: raw, as: UTF8.self) }
        return unescape(raw)
    }
}

/// Walks a label block the parser already validated: yields name and raw value ranges.
struct LabelCursor {
    let body: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int

    init(body: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.body = body
        self.position = start
        self.end = end
    }

    @inline(__always) private func isBlank(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r")
    }

    mutating func next() -> (name: Range<Int>, value: Range<Int>)? {
        while position < end && (isBlank(body[position]) || body[position] == UInt8(ascii: ",")) { position &+= 1 }
        guard position < end else { return nil }
        let nameStart = position
        // Validated text: a name is followed by optional blanks and `=`, a value by its closing
        // quote, so both ends are found by a word-at-a-time search.
        position = firstByte(UInt8(ascii: "="), or: UInt8(ascii: "="), from: position)
        var nameEnd = position
        while nameEnd > nameStart && isBlank(body[nameEnd &- 1]) { nameEnd &-= 1 }
        position = firstByte(UInt8(ascii: "\""), or: UInt8(ascii: "\""), from: position) &+ 1
        let valueStart = position
        while true {
            position = firstByte(UInt8(ascii: "\""), or: UInt8(ascii: "\\"), from: position)
            if position >= end || body[position] == UInt8(ascii: "\"") { break }
            position &+= 2
        }
        let valueEnd = position
        position &+= 1
        return (nameStart..<nameEnd, valueStart..<valueEnd)
    }

    /// The index of the first `a` or `b` at or after `start`, or `end`.
    @inline(__always) private func firstByte(_ a: UInt8, or b: UInt8, from start: Int) -> Int {
        guard let base = body.baseAddress else { return end }
        return firstOccurrence(of: a, b, b, in: base, from: start, end: end)
    }
}

/// Decodes `\\`, `\"` and `\n`; any other byte after a backslash is kept as is.
func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
    var decoded: [UInt8] = []
    unescape(raw, into: &decoded)
    return String(decoding: decoded, as: UTF8.self)
}

func unescape(_ raw: UnsafeBufferPointer<UInt8>, into decoded: inout [UInt8]) {
    decoded.reserveCapacity(decoded.count + raw.count)
    var i = 0
    while i < raw.count {
        let c = raw[i]
        if c == UInt8(ascii: "\\") && i + 1 < raw.count {
            let next = raw[i + 1]
            decoded.append(next == UInt8(ascii: "n") ? UInt8(ascii: "\n") : next)
            i += 2
        } else {
            decoded.append(c)
            i += 1
        }
    }
}

extension DocumentStorage {
    func decodedHelp(_ start: Int, _ end: Int) -> String {
        bytes.withUnsafeBufferPointer { body in
            let raw = UnsafeBufferPointer(rebasing: body[start..<end])
            return raw.contains(UInt8(ascii: "\\")) ? unescape(raw) : String(decoding: raw, as: UTF8.self)
        }
    }
}
