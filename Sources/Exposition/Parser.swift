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

// Character classes as 128-bit bitmaps (two words). They define the classes for the writer's
// validation and fill the parser's per-byte table (`CharacterClass`), which the hot loops use.
@inline(__always) private func inClass(_ c: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
    c < 64 ? (low >> UInt64(c)) & 1 != 0 : c < 128 && (high >> UInt64(c &- 64)) & 1 != 0
}
private let lettersUnderscoreHigh: UInt64 = 0x07FF_FFFE_87FF_FFFE  // A-Z, _, a-z
private let digitsLow: UInt64 = 0x03FF_0000_0000_0000            // 0-9
private let colonLow: UInt64 = 0x0400_0000_0000_0000             // :

@inline(__always) func isNameStart(_ c: UInt8) -> Bool { inClass(c, colonLow, lettersUnderscoreHigh) }
@inline(__always) func isNameChar(_ c: UInt8) -> Bool { inClass(c, colonLow | digitsLow, lettersUnderscoreHigh) }
@inline(__always) func isLabelNameStart(_ c: UInt8) -> Bool { inClass(c, 0, lettersUnderscoreHigh) }
@inline(__always) func isLabelNameChar(_ c: UInt8) -> Bool { inClass(c, digitsLow, lettersUnderscoreHigh) }

/// Bits of the parser's per-byte class table.
enum CharacterClass {
    static let nameStart: UInt8 = 1
    static let nameChar: UInt8 = 2
    static let labelNameStart: UInt8 = 4
    static let labelNameChar: UInt8 = 8
    /// Space, tab, CR, LF: what ends a value or timestamp token.
    static let tokenEnd: UInt8 = 16
    /// Space, tab, CR.
    static let blank: UInt8 = 32

    static func fill(_ table: UnsafeMutableBufferPointer<UInt8>) {
        for byte in 0..<256 {
            let c = UInt8(byte)
            var bits: UInt8 = 0
            if Exposition.isNameStart(c) { bits |= nameStart }
            if Exposition.isNameChar(c) { bits |= nameChar }
            if Exposition.isLabelNameStart(c) { bits |= labelNameStart }
            if Exposition.isLabelNameChar(c) { bits |= labelNameChar }
            if c == space || c == tab || c == carriageReturn { bits |= blank | tokenEnd }
            if c == newline { bits |= tokenEnd }
            table[byte] = bits
        }
    }
}

/// Single pass over the body, one line at a time.
///
/// The buffer always ends with `\n` (the document appends one when the body lacks it), and
/// every scan stops at `\n`, so scans within a line need no bounds checks.
struct Parser {
    let base: UnsafePointer<UInt8>
    /// Bytes in the buffer, including an appended final `\n`.
    let count: Int
    /// Bytes in the body as given; line ends and byte ranges never go past it.
    let bodyCount: Int
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
    // The current family's growing fields live here and are written back when the family
    // ends, so that each sample costs no write into `families`.
    var currentByteEnd = 0
    var currentHasSampleLines = false
    // Copies of the current family's identity, read for every sample line.
    var currentNameStart = 0
    var currentNameLength = 0
    var currentType = MetricType.untyped
    var currentSelected = false

    /// 256 entries of `CharacterClass` bits, one load per byte in the scanning loops.
    let classes: UnsafePointer<UInt8>

    init(base: UnsafePointer<UInt8>, count: Int, bodyCount: Int, classes: UnsafePointer<UInt8>, options: ParseOptions) {
        precondition(count > 0 && base[count - 1] == newline && bodyCount <= count)
        self.base = base
        self.classes = classes
        self.count = count
        self.bodyCount = bodyCount
        self.lenient = options.lenient
        self.selectedNames = options.families.map(ByteNameSet.init)
        self.predicate = options.familyPredicate
        samples.reserveCapacity(count / 128 + 16)
        families.reserveCapacity(count / 1024 + 16)
    }

    @inline(__always) func byte(_ i: Int) -> UInt8 { base[i] }

    @inline(__always) func skipBlanks(_ i: Int) -> Int {
        var i = i
        while classes[Int(base[i])] & CharacterClass.blank != 0 { i += 1 }
        return i
    }

    @inline(__always) func isNameStart(_ c: UInt8) -> Bool { classes[Int(c)] & CharacterClass.nameStart != 0 }
    @inline(__always) func isNameChar(_ c: UInt8) -> Bool { classes[Int(c)] & CharacterClass.nameChar != 0 }
    @inline(__always) func isLabelNameStart(_ c: UInt8) -> Bool { classes[Int(c)] & CharacterClass.labelNameStart != 0 }
    @inline(__always) func isLabelNameChar(_ c: UInt8) -> Bool { classes[Int(c)] & CharacterClass.labelNameChar != 0 }
    @inline(__always) func isTokenEnd(_ c: UInt8) -> Bool { classes[Int(c)] & CharacterClass.tokenEnd != 0 }

    /// The index just past the `\n` that ends the line containing `i` (at most `bodyCount`).
    @inline(__always) func lineEnd(from i: Int) -> Int {
        guard i < count, let found = memchr(base + i, Int32(newline), count - i) else { return bodyCount }
        return min(UnsafeRawPointer(found) - UnsafeRawPointer(base) + 1, bodyCount)
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
        while position < bodyCount {
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
        closeCurrentFamily()
    }

    mutating func closeCurrentFamily() {
        guard current >= 0 else { return }
        families[current].byteEnd = currentByteEnd
        families[current].hasSampleLines = currentHasSampleLines
        if families[current].selected { families[current].samplesEnd = samples.count }
    }

    @inline(__always) mutating func parseLine(at start: Int) throws(ParseError) -> Int {
        var i = start
        var c = base[i]
        if c == space || c == tab || c == carriageReturn {
            i = skipBlanks(i)
            c = byte(i)
        }
        if c == newline { return min(i + 1, bodyCount) }
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
        let (existing, hash) = try familyForMetadata(nameStart, nameEnd, keyword)
        let selected = existing >= 0 ? currentSelected : isSelected(nameStart, nameEnd)
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

        let index = existing >= 0 ? existing : openFamily(nameStart, nameEnd, hash: hash, selected: selected)
        switch keyword {
        case .help:
            families[index].helpStart = textStart
            families[index].helpEnd = textEnd
        case .type:
            families[index].type = type
            families[index].hasType = true
            currentType = type
        case .unit:
            families[index].unitStart = textStart
            families[index].unitEnd = textEnd
        }
        currentByteEnd = end
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
        @inline(__always) func isWord(_ word: StaticString) -> Bool {
            end - start == word.utf8CodeUnitCount && bytesEqual(base + start, word.utf8Start, end - start)
        }
        if isWord("counter") { return .counter }
        if isWord("gauge") { return .gauge }
        if isWord("histogram") { return .histogram }
        if isWord("summary") { return .summary }
        if isWord("untyped") { return .untyped }
        if isWord("info") { return .info }
        if isWord("stateset") { return .stateset }
        if isWord("gaugehistogram") { return .gaugehistogram }
        if isWord("unknown") { return .unknown }
        return nil
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
    mutating func familyForMetadata(_ nameStart: Int, _ nameEnd: Int, _ keyword: Keyword) throws(ParseError) -> (index: Int, hash: UInt64) {
        let keywordText = switch keyword { case .help: "HELP"; case .type: "TYPE"; case .unit: "UNIT" }
        if current >= 0 && isCurrentName(nameStart, nameEnd) {
            let family = families[current]
            switch keyword {
            case .help where family.helpStart >= 0,
                 .type where family.hasType,
                 .unit where family.unitStart >= 0:
                throw error(nameStart, "duplicate \(keywordText) for family \(familyName(current))")
            case .type where currentHasSampleLines:
                throw error(nameStart, "TYPE for family \(familyName(current)) after its samples")
            default:
                return (current, 0)
            }
        }
        let (found, hash) = findFamily(nameStart, nameEnd)
        if let earlier = found {
            let what = switch keyword {
            case .help where families[earlier].helpStart >= 0: "duplicate HELP for family"
            case .type where families[earlier].hasType: "duplicate TYPE for family"
            default: "\(keywordText) for a family that already ended:"
            }
            throw error(nameStart, "\(what) \(familyName(earlier)) (it began on line \(families[earlier].firstLine))")
        }
        return (-1, hash)
    }

    @inline(__always) func isCurrentName(_ start: Int, _ end: Int) -> Bool {
        currentNameLength == end - start && bytesEqual(base + currentNameStart, base + start, currentNameLength)
    }

    @inline(__always) func sameName(_ family: Int, _ start: Int, _ end: Int) -> Bool {
        let record = families[family]
        let length = record.nameEnd - record.nameStart
        return length == end - start && bytesEqual(base + record.nameStart, base + start, length)
    }

    /// An earlier family with this name, and the name's hash for `openFamily`.
    func findFamily(_ start: Int, _ end: Int) -> (index: Int?, hash: UInt64) {
        let hash = nameHash(base + start, end - start)
        return (nameTable.find(hash: hash) { sameName($0, start, end) }, hash)
    }

    func isSelected(_ start: Int, _ end: Int) -> Bool {
        if let selectedNames, !selectedNames.contains(base + start, end - start) { return false }
        if let predicate, !predicate(UnsafeBufferPointer(start: base + start, count: end - start)) { return false }
        return true
    }

    mutating func openFamily(_ nameStart: Int, _ nameEnd: Int, hash: UInt64, selected: Bool) -> Int {
        closeCurrentFamily()
        currentByteEnd = lineStart
        currentHasSampleLines = false
        currentNameStart = nameStart
        currentNameLength = nameEnd - nameStart
        currentType = .untyped
        currentSelected = selected
        let index = families.count
        families.append(FamilyRecord(
            nameStart: nameStart, nameEnd: nameEnd,
            byteStart: lineStart, byteEnd: lineStart,
            samplesStart: samples.count, samplesEnd: samples.count,
            firstLine: lineNumber, selected: selected))
        nameTable.insert(index: index, hash: hash)
        current = index
        return index
    }

    // MARK: Samples

    /// Whether sample name `start..<end` continues the current family, and with which suffix.
    @inline(__always) func continuesCurrent(_ start: Int, _ end: Int, prefixKnown: Bool) -> SampleSuffix? {
        let familyLength = currentNameLength
        let length = end - start
        guard length >= familyLength else { return nil }
        guard prefixKnown || bytesEqual(base + currentNameStart, base + start, familyLength) else { return nil }
        if length == familyLength { return SampleSuffix.none }
        let rest = start + familyLength
        let restLength = length - familyLength
        @inline(__always) func suffixIs(_ word: StaticString) -> Bool {
            restLength == word.utf8CodeUnitCount && bytesEqual(base + rest, word.utf8Start, restLength)
        }
        switch currentType {
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
        var prefixKnown = false
        if current >= 0 {
            // Most samples continue the current family, whose name is already validated, so
            // only what follows that prefix needs scanning.
            let familyLength = currentNameLength
            if count - start > familyLength && bytesEqual(base + currentNameStart, base + start, familyLength) {
                i = start + familyLength
                prefixKnown = true
            }
        }
        if i == start {
            guard isNameStart(base[i]) else { throw error(i, "invalid metric name") }
            i += 1
        }
        while isNameChar(byte(i)) { i += 1 }
        let nameEnd = i

        var suffix = SampleSuffix.none
        var family = -1
        var hash: UInt64 = 0
        if current >= 0, let continued = continuesCurrent(start, nameEnd, prefixKnown: prefixKnown) {
            family = current
            suffix = continued
        } else {
            let found = findFamily(start, nameEnd)
            if let earlier = found.index {
                throw error(start, "samples for family \(familyName(earlier)) after other families (it began on line \(families[earlier].firstLine))")
            }
            hash = found.hash
        }
        let selected = family >= 0 ? currentSelected : isSelected(start, nameEnd)
        guard selected else {
            let end = lineEnd(from: i)
            if family < 0 { family = openFamily(start, nameEnd, hash: hash, selected: false) }
            currentHasSampleLines = true
            currentByteEnd = end
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
        while !isTokenEnd(byte(i)) { i += 1 }
        guard i > valueStart else { throw error(valueStart, "missing value") }
        guard let value = parseFloat(base + valueStart, i - valueStart) else {
            throw error(valueStart, "invalid value '\(text(valueStart, i))'")
        }
        i = skipBlanks(i)
        c = byte(i)
        var timestamp: Int64 = 0
        if c != newline && c != UInt8(ascii: "#") {
            let timestampStart = i
            while !isTokenEnd(byte(i)) { i += 1 }
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
            end = min(i + 1, bodyCount)
        } else if c == UInt8(ascii: "#") {
            // An OpenMetrics exemplar: ` # {labels} value [timestamp]`; kept in the byte range, not parsed.
            guard byte(skipBlanks(i + 1)) == UInt8(ascii: "{") else { throw error(i, "invalid exemplar") }
            end = lineEnd(from: i)
        } else {
            throw error(i, flags & SampleRecord.hasTimestamp != 0 ? "unexpected text after timestamp" : "unexpected text after value")
        }
        guard end <= Int(UInt32.max) else { throw error(start, "body larger than 4 GiB") }

        if family < 0 { family = openFamily(start, nameEnd, hash: hash, selected: true) }
        samples.append(SampleRecord(
            value: value, timestampMs: timestamp,
            nameStart: UInt32(truncatingIfNeeded: start), nameEnd: UInt32(truncatingIfNeeded: nameEnd),
            labelsStart: UInt32(truncatingIfNeeded: labelsStart), labelsEnd: UInt32(truncatingIfNeeded: labelsEnd),
            suffix: suffix, flags: flags))
        currentHasSampleLines = true
        currentByteEnd = end
        return end
    }

    /// Validates a label block starting just after `{`; returns the index of `}` and whether
    /// any value holds an escape sequence.
    mutating func parseLabels(from start: Int) throws(ParseError) -> (end: Int, escapes: Bool) {
        var i = start
        var escapes = false
        // A 64-bit signature of the label names seen; only a repeated bit costs a real check.
        var seenNames: UInt64 = 0
        while true {
            var c = base[i]
            if classes[Int(c)] & CharacterClass.blank != 0 {
                i = skipBlanks(i)
                c = base[i]
            }
            if c == UInt8(ascii: "}") { return (i, escapes) }
            guard isLabelNameStart(c) else {
                throw error(i, c == newline ? "unterminated label set" : "invalid label name")
            }
            let nameStart = i
            i += 1
            while isLabelNameChar(byte(i)) { i += 1 }
            let nameLength = i - nameStart
            let bit: UInt64 = 1 << ((UInt64(base[nameStart]) &+ UInt64(base[i - 1]) &* 7 &+ UInt64(nameLength) &* 13) & 63)
            if seenNames & bit != 0 && isDuplicateLabelName(blockStart: start, nameStart: nameStart, nameLength: nameLength) {
                throw error(nameStart, "duplicate label name '\(text(nameStart, i))'")
            }
            seenNames |= bit
            // Blanks around `=`, `,` and quotes are legal but rare: test the common byte first.
            if base[i] != UInt8(ascii: "=") { i = skipBlanks(i) }
            guard byte(i) == UInt8(ascii: "=") else {
                throw error(i, isNameChar(byte(i)) || byte(i) == UInt8(ascii: "-") || byte(i) == UInt8(ascii: ".")
                    ? "invalid label name" : "expected '=' after label name")
            }
            i += 1
            if base[i] != quote { i = skipBlanks(i) }
            guard byte(i) == quote else { throw error(i, "expected '\"' to start label value") }
            let valueOpen = i
            i += 1
            while true {
                i = skipPlainLabelValueBytes(i)
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
            i += 1
            c = base[i]
            if classes[Int(c)] & CharacterClass.blank != 0 {
                i = skipBlanks(i)
                c = base[i]
            }
            if c == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if c == UInt8(ascii: "}") { return (i, escapes) }
            throw error(i, c == newline ? "unterminated label set" : "expected ',' or '}' after label value")
        }
    }

    /// Skips label value bytes that are none of `"`, `\`, `\n`, eight at a time.
    @inline(__always) func skipPlainLabelValueBytes(_ start: Int) -> Int {
        firstOccurrence(of: quote, backslash, newline, in: base, from: start, end: count)
    }

    /// Exact duplicate check: rescans the names before `nameStart` in this label block.
    func isDuplicateLabelName(blockStart: Int, nameStart: Int, nameLength: Int) -> Bool {
        var cursor = LabelCursor(body: UnsafeBufferPointer(start: base, count: count), start: blockStart, end: nameStart)
        while let (name, _) = cursor.next() {
            if name.count == nameLength && bytesEqual(base + name.lowerBound, base + nameStart, nameLength) { return true }
        }
        return false
    }
}

/// The index of the first of `a`, `b` or `c` in `base[start..<end]`, or `end`; compares eight
/// bytes at a time.
@inline(__always) func firstOccurrence(of a: UInt8, _ b: UInt8, _ c: UInt8, in base: UnsafePointer<UInt8>, from start: Int, end: Int) -> Int {
    let patternA = UInt64(a) &* 0x0101_0101_0101_0101
    let patternB = UInt64(b) &* 0x0101_0101_0101_0101
    let patternC = UInt64(c) &* 0x0101_0101_0101_0101
    var i = start
    while i &+ 8 <= end {
        let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
        let found = hasZeroByte(word ^ patternA) | hasZeroByte(word ^ patternB) | hasZeroByte(word ^ patternC)
        // Little-endian: the lowest flagged byte is the first match.
        if found != 0 { return i &+ found.trailingZeroBitCount / 8 }
        i &+= 8
    }
    while i < end {
        let byte = base[i]
        if byte == a || byte == b || byte == c { return i }
        i &+= 1
    }
    return i
}

/// Nonzero with the high bit set in each byte of `word` that is zero (and possibly in bytes
/// after one, never before it), which is all the first-match search needs.
@inline(__always) func hasZeroByte(_ word: UInt64) -> UInt64 {
    (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
}
