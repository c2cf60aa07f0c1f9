#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private let newline = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
private let carriageReturn = UInt8(ascii: "\r")
private let quote = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")

@inline(__always) func isNameStart(_ c: UInt8) -> Bool {
    (c | 0x20) &- UInt8(ascii: "a") < 26 || c == UInt8(ascii: "_") || c == UInt8(ascii: ":")
}
@inline(__always) func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || c &- UInt8(ascii: "0") < 10 }
@inline(__always) func isLabelNameStart(_ c: UInt8) -> Bool {
    (c | 0x20) &- UInt8(ascii: "a") < 26 || c == UInt8(ascii: "_")
}
@inline(__always) func isLabelNameChar(_ c: UInt8) -> Bool { isLabelNameStart(c) || c &- UInt8(ascii: "0") < 10 }

/// Single pass over the body, one line at a time. Reads past the end as `\n`, so every scan
/// stops at a line end without separate bounds checks.
struct Parser {
    let base: UnsafePointer<UInt8>
    let count: Int
    let lenient: Bool
    let selectedNames: ByteNameSet?
    let predicate: (@Sendable (UnsafeBufferPointer<UInt8>) -> Bool)?

    var samples: [SampleRecord] = []
    var families: [FamilyRecord] = []
    var nameTable = NameIndexTable(expected: 256)
    var errors: [ParseError] = []
    /// Index of the family that the next sample may continue; -1 before the first family.
    var current = -1
    var lineNumber = 0
    var lineStart = 0
    var eofSeen = false
    /// Label name ranges of the sample being parsed, for the duplicate-name check.
    var labelNames: [Int] = []

    init(base: UnsafePointer<UInt8>, count: Int, options: ParseOptions) {
        self.base = base
        self.count = count
        self.lenient = options.lenient
        self.selectedNames = options.families.map(ByteNameSet.init)
        self.predicate = options.familyPredicate
        samples.reserveCapacity(count / 128 + 16)
        labelNames.reserveCapacity(32)
    }

    @inline(__always) func byte(_ i: Int) -> UInt8 { i < count ? base[i] : newline }

    @inline(__always) func skipBlanks(_ i: Int) -> Int {
        var i = i
        while true {
            let c = byte(i)
            guard c == space || c == tab || c == carriageReturn else { return i }
            i += 1
        }
    }

    /// The index just past the `\n` that ends the line containing `i` (or `count`).
    @inline(__always) func lineEnd(from i: Int) -> Int {
        guard i < count else { return count }
        guard let found = memchr(base + i, Int32(newline), count - i) else { return count }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base) + 1
    }

    func error(_ i: Int, _ reason: String) -> ParseError {
        ParseError(line: lineNumber, column: i - lineStart + 1, reason: reason)
    }

    func text(_ start: Int, _ end: Int, limit: Int = 64) -> String {
        let end = min(end, count, end - start > limit ? start + limit : end)
        return String(decoding: UnsafeBufferPointer(start: base + start, count: max(0, end - start)), as: UTF8.self)
    }

    func familyName(_ index: Int) -> String { text(families[index].nameStart, families[index].nameEnd, limit: .max) }

    mutating func run() throws(ParseError) {
        var position = 0
        while position < count {
            lineNumber += 1
            lineStart = position
            do {
                position = try parseLine(at: position)
            } catch {
                if !lenient { throw error }
                errors.append(error)
                position = lineEnd(from: lineStart)
            }
        }
    }

    @inline(__always) mutating func parseLine(at start: Int) throws(ParseError) -> Int {
        var i = start
        var c = base[i]
        if c == space || c == tab || c == carriageReturn {
            i = skipBlanks(i)
            c = byte(i)
        }
        if c == newline { return min(i + 1, count) }
        if eofSeen { throw error(i, "content after # EOF") }
        if c == UInt8(ascii: "#") { return try parseComment(at: i) }
        return try parseSample(at: i)
    }

    // MARK: Comments: HELP, TYPE, UNIT, EOF

    enum Keyword { case help, type, unit }

    mutating func parseComment(at hash: Int) throws(ParseError) -> Int {
        var i = hash + 1
        while byte(i) == space || byte(i) == tab { i += 1 }
        let keyword: Keyword
        if matches(i, "HELP") { keyword = .help }
        else if matches(i, "TYPE") { keyword = .type }
        else if matches(i, "UNIT") { keyword = .unit }
        else {
            if matches(i, "EOF", followedByBlank: false) && byte(skipBlanks(i + 3)) == newline {
                eofSeen = true
            }
            return lineEnd(from: i)
        }
        i += 5
        while byte(i) == space || byte(i) == tab { i += 1 }
        let nameStart = i
        guard isNameStart(byte(i)) else { throw error(i, "invalid metric name") }
        i += 1
        while isNameChar(byte(i)) { i += 1 }
        let nameEnd = i
        let c = byte(i)
        guard c == space || c == tab || c == newline || c == carriageReturn else {
            throw error(i, "invalid metric name")
        }
        let existing = try familyForMetadata(nameStart, nameEnd, keyword)
        let selected = existing >= 0 ? families[existing].selected : isSelected(nameStart, nameEnd)
        let end = lineEnd(from: i)
        var textEnd = end
        if textEnd > i && base[textEnd - 1] == newline { textEnd -= 1 }
        if textEnd > i && base[textEnd - 1] == carriageReturn { textEnd -= 1 }
        while byte(i) == space || byte(i) == tab { i += 1 }
        let textStart = min(i, textEnd)

        var type = MetricType.untyped
        switch keyword {
        case .help:
            if selected { try validateHelpEscapes(textStart, textEnd) }
        case .type:
            var tokenEnd = textStart
            while tokenEnd < textEnd && base[tokenEnd] != space && base[tokenEnd] != tab { tokenEnd += 1 }
            guard let parsed = metricType(textStart, tokenEnd) else {
                throw error(textStart, "invalid metric type '\(text(textStart, tokenEnd))'")
            }
            guard skipBlanks(tokenEnd) >= textEnd else { throw error(skipBlanks(tokenEnd), "unexpected text after TYPE") }
            type = parsed
        case .unit:
            var tokenEnd = textStart
            while tokenEnd < textEnd && base[tokenEnd] != space && base[tokenEnd] != tab { tokenEnd += 1 }
            guard skipBlanks(tokenEnd) >= textEnd else { throw error(skipBlanks(tokenEnd), "unexpected text after UNIT") }
            // OpenMetrics units are metric-name characters; anything else could not be written back.
            var unitIndex = textStart
            while unitIndex < tokenEnd {
                guard isNameChar(base[unitIndex]) else { throw error(unitIndex, "invalid unit '\(text(textStart, tokenEnd))'") }
                unitIndex += 1
            }
            textEnd = tokenEnd
        }

        let index = existing >= 0 ? existing : openFamily(nameStart, nameEnd, selected: selected)
        switch keyword {
        case .help:
            families[index].helpStart = textStart
            families[index].helpEnd = textEnd
        case .type:
            families[index].type = type
            families[index].hasType = true
        case .unit:
            families[index].unitStart = textStart
            families[index].unitEnd = textEnd
        }
        families[index].byteEnd = end
        return end
    }

    @inline(__always) func matches(_ i: Int, _ word: StaticString, followedByBlank: Bool = true) -> Bool {
        let length = word.utf8CodeUnitCount
        guard i + length <= count, bytesEqual(base + i, word.utf8Start, length) else { return false }
        guard followedByBlank else { return true }
        let next = byte(i + length)
        return next == space || next == tab
    }

    func metricType(_ start: Int, _ end: Int) -> MetricType? {
        guard end > start else { return nil }
        return MetricType(rawValue: text(start, end, limit: 32))
    }

    func validateHelpEscapes(_ start: Int, _ end: Int) throws(ParseError) {
        var i = start
        while i < end {
            guard let found = memchr(base + i, Int32(backslash), end - i) else { return }
            i = UnsafeRawPointer(found) - UnsafeRawPointer(base)
            let next = i + 1 < end ? base[i + 1] : newline
            guard next == backslash || next == UInt8(ascii: "n") || next == quote else {
                throw error(i, next == newline ? "incomplete escape sequence at end of HELP"
                    : "invalid escape sequence '\\\(text(i + 1, i + 2))' in HELP")
            }
            i += 2
        }
    }

    /// The family a HELP/TYPE/UNIT line attaches to (the current one), -1 when it starts a
    /// new family, or an error when the name belongs to a family that already ended.
    mutating func familyForMetadata(_ nameStart: Int, _ nameEnd: Int, _ keyword: Keyword) throws(ParseError) -> Int {
        let keywordText = switch keyword { case .help: "HELP"; case .type: "TYPE"; case .unit: "UNIT" }
        if current >= 0 && sameName(current, nameStart, nameEnd) {
            let family = families[current]
            switch keyword {
            case .help where family.helpStart >= 0,
                 .type where family.hasType,
                 .unit where family.unitStart >= 0:
                throw error(nameStart, "duplicate \(keywordText) for family \(familyName(current))")
            case .type where family.sampleLines > 0:
                throw error(nameStart, "TYPE for family \(familyName(current)) after its samples")
            default:
                return current
            }
        }
        if let earlier = findFamily(nameStart, nameEnd) {
            let what = switch keyword {
            case .help where families[earlier].helpStart >= 0: "duplicate HELP for family"
            case .type where families[earlier].hasType: "duplicate TYPE for family"
            default: "\(keywordText) for a family that already ended:"
            }
            throw error(nameStart, "\(what) \(familyName(earlier)) (it began on line \(families[earlier].firstLine))")
        }
        return -1
    }

    @inline(__always) func sameName(_ family: Int, _ start: Int, _ end: Int) -> Bool {
        let record = families[family]
        let length = record.nameEnd - record.nameStart
        return length == end - start && bytesEqual(base + record.nameStart, base + start, length)
    }

    func findFamily(_ start: Int, _ end: Int) -> Int? {
        nameTable.find(hash: fnv1a(base + start, end - start)) { sameName($0, start, end) }
    }

    func isSelected(_ start: Int, _ end: Int) -> Bool {
        if let selectedNames, !selectedNames.contains(base + start, end - start) { return false }
        if let predicate, !predicate(UnsafeBufferPointer(start: base + start, count: end - start)) { return false }
        return true
    }

    mutating func openFamily(_ nameStart: Int, _ nameEnd: Int, selected: Bool) -> Int {
        let index = families.count
        families.append(FamilyRecord(
            nameStart: nameStart, nameEnd: nameEnd,
            byteStart: lineStart, byteEnd: lineStart,
            samplesStart: samples.count, samplesEnd: samples.count,
            firstLine: lineNumber, selected: selected))
        nameTable.insert(index: index, hash: fnv1a(base + nameStart, nameEnd - nameStart))
        current = index
        return index
    }

    // MARK: Samples

    /// Whether sample name `start..<end` continues `family`, and with which suffix.
    @inline(__always) func continues(_ family: Int, _ start: Int, _ end: Int) -> SampleSuffix? {
        let record = families[family]
        let familyLength = record.nameEnd - record.nameStart
        let length = end - start
        guard length >= familyLength, bytesEqual(base + record.nameStart, base + start, familyLength) else { return nil }
        if length == familyLength { return SampleSuffix.none }
        let rest = start + familyLength
        let restLength = length - familyLength
        @inline(__always) func suffixIs(_ word: StaticString) -> Bool {
            restLength == word.utf8CodeUnitCount && bytesEqual(base + rest, word.utf8Start, restLength)
        }
        switch record.type {
        case .histogram:
            if suffixIs("_bucket") { return .bucket }
            if suffixIs("_sum") { return .sum }
            if suffixIs("_count") { return .count }
            if suffixIs("_created") { return .created }
        case .gaugehistogram:
            if suffixIs("_bucket") { return .bucket }
            if suffixIs("_gsum") { return .gsum }
            if suffixIs("_gcount") { return .gcount }
        case .summary:
            if suffixIs("_sum") { return .sum }
            if suffixIs("_count") { return .count }
            if suffixIs("_created") { return .created }
        case .counter:
            if suffixIs("_total") { return .total }
            if suffixIs("_created") { return .created }
        case .info:
            if suffixIs("_info") { return .info }
        case .gauge, .untyped, .stateset, .unknown:
            break
        }
        return nil
    }

    mutating func parseSample(at start: Int) throws(ParseError) -> Int {
        var i = start
        guard isNameStart(base[i]) else { throw error(i, "invalid metric name") }
        i += 1
        while isNameChar(byte(i)) { i += 1 }
        let nameEnd = i

        var suffix = SampleSuffix.none
        var family = -1
        if current >= 0, let continued = continues(current, start, nameEnd) {
            family = current
            suffix = continued
        } else if let earlier = findFamily(start, nameEnd) {
            throw error(start, "samples for family \(familyName(earlier)) after other families (it began on line \(families[earlier].firstLine))")
        }
        let selected = family >= 0 ? families[family].selected : isSelected(start, nameEnd)
        guard selected else {
            let end = lineEnd(from: i)
            if family < 0 { family = openFamily(start, nameEnd, selected: false) }
            families[family].sampleLines += 1
            families[family].byteEnd = end
            return end
        }

        var c = byte(i)
        if c == space || c == tab {
            i = skipBlanks(i)
            c = byte(i)
        }
        var labelsStart = i
        var labelsEnd = i
        var flags: UInt8 = 0
        if c == UInt8(ascii: "{") {
            labelsStart = i + 1
            let (end, escapes) = try parseLabels(from: labelsStart)
            labelsEnd = end
            if escapes { flags |= SampleRecord.labelsHaveEscapes }
            i = end + 1
            c = byte(i)
            guard c == space || c == tab else {
                throw error(i, c == newline || c == carriageReturn ? "missing value" : "expected a blank before the value")
            }
            i = skipBlanks(i)
        } else if i == nameEnd {
            throw error(i, c == newline || c == carriageReturn ? "missing value" : "invalid metric name")
        }
        let valueStart = i
        while true {
            c = byte(i)
            if c == space || c == newline || c == tab || c == carriageReturn { break }
            i += 1
        }
        guard i > valueStart else { throw error(valueStart, "missing value") }
        guard let value = parseFloat(base + valueStart, i - valueStart) else {
            throw error(valueStart, "invalid value '\(text(valueStart, i))'")
        }
        i = skipBlanks(i)
        c = byte(i)
        var timestamp: Int64 = 0
        if c != newline && c != UInt8(ascii: "#") {
            let timestampStart = i
            while true {
                c = byte(i)
                if c == space || c == newline || c == tab || c == carriageReturn { break }
                i += 1
            }
            guard let parsed = parseInt64(base + timestampStart, i - timestampStart) else {
                throw error(timestampStart, "invalid timestamp '\(text(timestampStart, i))'")
            }
            timestamp = parsed
            flags |= SampleRecord.hasTimestamp
            i = skipBlanks(i)
            c = byte(i)
        }
        let end: Int
        if c == newline {
            end = min(i + 1, count)
        } else if c == UInt8(ascii: "#") {
            // An OpenMetrics exemplar: ` # {labels} value [timestamp]`; kept in the byte range, not parsed.
            guard byte(skipBlanks(i + 1)) == UInt8(ascii: "{") else { throw error(i, "invalid exemplar") }
            end = lineEnd(from: i)
        } else {
            throw error(i, flags & SampleRecord.hasTimestamp != 0 ? "unexpected text after timestamp" : "unexpected text after value")
        }
        guard end <= Int(UInt32.max) else { throw error(start, "body larger than 4 GiB") }

        if family < 0 { family = openFamily(start, nameEnd, selected: true) }
        samples.append(SampleRecord(
            value: value, timestampMs: timestamp,
            nameStart: UInt32(truncatingIfNeeded: start), nameEnd: UInt32(truncatingIfNeeded: nameEnd),
            labelsStart: UInt32(truncatingIfNeeded: labelsStart), labelsEnd: UInt32(truncatingIfNeeded: labelsEnd),
            suffix: suffix, flags: flags))
        families[family].samplesEnd = samples.count
        families[family].sampleLines += 1
        families[family].byteEnd = end
        return end
    }

    /// Validates a label block starting just after `{`; returns the index of `}` and whether
    /// any value holds an escape sequence.
    mutating func parseLabels(from start: Int) throws(ParseError) -> (end: Int, escapes: Bool) {
        var i = start
        var escapes = false
        labelNames.removeAll(keepingCapacity: true)
        while true {
            i = skipBlanks(i)
            var c = byte(i)
            if c == UInt8(ascii: "}") { return (i, escapes) }
            guard isLabelNameStart(c) else {
                throw error(i, c == newline ? "unterminated label set" : "invalid label name")
            }
            let nameStart = i
            i += 1
            while isLabelNameChar(byte(i)) { i += 1 }
            let nameLength = i - nameStart
            var k = 0
            while k < labelNames.count {
                if labelNames[k + 1] == nameLength && bytesEqual(base + labelNames[k], base + nameStart, nameLength) {
                    throw error(nameStart, "duplicate label name '\(text(nameStart, i))'")
                }
                k += 2
            }
            labelNames.append(nameStart)
            labelNames.append(nameLength)
            i = skipBlanks(i)
            guard byte(i) == UInt8(ascii: "=") else {
                throw error(i, isNameChar(byte(i)) || byte(i) == UInt8(ascii: "-") || byte(i) == UInt8(ascii: ".")
                    ? "invalid label name" : "expected '=' after label name")
            }
            i = skipBlanks(i + 1)
            guard byte(i) == quote else { throw error(i, "expected '\"' to start label value") }
            let valueOpen = i
            i += 1
            while true {
                c = byte(i)
                if c == quote { break }
                if c == backslash {
                    let next = byte(i + 1)
                    if next == backslash || next == quote || next == UInt8(ascii: "n") {
                        escapes = true
                        i += 2
                        continue
                    }
                    if next == newline { throw error(valueOpen, "unterminated label value") }
                    throw error(i, "invalid escape sequence '\\\(text(i + 1, i + 2))' in label value")
                }
                if c == newline { throw error(valueOpen, "unterminated label value") }
                i += 1
            }
            i = skipBlanks(i + 1)
            c = byte(i)
            if c == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if c == UInt8(ascii: "}") { return (i, escapes) }
            throw error(i, c == newline ? "unterminated label set" : "expected ',' or '}' after label value")
        }
    }
}
