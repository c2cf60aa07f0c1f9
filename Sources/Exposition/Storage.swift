#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One parsed sample: byte offsets into the body plus the parsed numbers. Plain data, so the
/// whole exposition's samples live in one contiguous array without per-sample allocation.
struct SampleRecord: Sendable {
    var value: Double
    var timestampMs: Int64
    var nameStart: UInt32
    var nameEnd: UInt32
    /// The bytes between `{` and `}`; empty when the sample has no label block.
    var labelsStart: UInt32
    var labelsEnd: UInt32
    var suffix: SampleSuffix
    var flags: UInt8

    static let hasTimestamp: UInt8 = 1
    static let labelsHaveEscapes: UInt8 = 2
}

struct FamilyRecord: Sendable {
    var nameStart: Int
    var nameEnd: Int
    var type: MetricType = .untyped
    var hasType = false
    /// Raw (still escaped) HELP text; `helpStart < 0` when there is no HELP line.
    var helpStart = -1
    var helpEnd = -1
    var unitStart = -1
    var unitEnd = -1
    var byteStart: Int
    var byteEnd: Int
    var samplesStart: Int
    var samplesEnd: Int
    /// Whether any sample line was seen, also for skipped families (whose samples are not stored).
    var hasSampleLines = false
    var firstLine: Int
    var selected: Bool
}

/// Open-addressing hash table from a name (hashed bytes) to an index; equality is checked by
/// the caller, so the table can index names that live anywhere (body bytes, a side buffer).
struct NameIndexTable: Sendable {
    private var slots: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init(expected: Int) {
        var capacity = 16
        while capacity < expected * 2 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
    }

    // Slot layout: high 32 bits hash, low 32 bits index + 1 (0 marks an empty slot).
    func find(hash: UInt64, matches: (Int) -> Bool) -> Int? {
        let tag = hash >> 32
        var slot = Int(truncatingIfNeeded: tag) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let index = Int(entry & 0xFFFF_FFFF) - 1
                if matches(index) { return index }
            }
            slot = (slot + 1) & mask
        }
    }

    mutating func insert(index: Int, hash: UInt64) {
        if (count + 1) * 2 > slots.count { grow() }
        place((hash >> 32) << 32 | UInt64(index + 1))
        count += 1
    }

    private mutating func place(_ entry: UInt64) {
        // Probing starts from the tag so that entries can be re-placed when the table grows.
        var slot = Int(truncatingIfNeeded: entry >> 32) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = entry
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for entry in old where entry != 0 { place(entry) }
    }
}

/// A name hash that reads eight bytes at a time (names are 20-60 bytes): multiply-xorshift
/// mixing of words.
@inline(__always)
func nameHash(_ start: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(length)
    var i = 0
    let raw = UnsafeRawPointer(start)
    while i + 8 <= length {
        hash = (hash ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
        hash ^= hash >> 29
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < length {
        tail |= UInt64(start[i]) << shift
        shift += 8
        i += 1
    }
    hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
    return hash ^ (hash >> 32)
}

@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
    memcmp(a, b, length) == 0
}

/// A set of names as bytes, so that family selection never builds a String per family.
struct ByteNameSet: Sendable {
    private var storage: [UInt8] = []
    private var ranges: [Range<Int>] = []
    private var table: NameIndexTable

    init(_ names: Set<String>) {
        table = NameIndexTable(expected: names.count)
        for name in names {
            let start = storage.count
            storage.append(contentsOf: name.utf8)
            ranges.append(start..<storage.count)
        }
        storage.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for (index, range) in ranges.enumerated() {
                table.insert(index: index, hash: nameHash(base + range.lowerBound, range.count))
            }
        }
    }

    func contains(_ start: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        let hash = nameHash(start, length)
        return storage.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            return table.find(hash: hash) { index in
                let range = ranges[index]
                return range.count == length && bytesEqual(base + range.lowerBound, start, length)
            } != nil
        }
    }
}

/// Owns the body and everything parsed from it; shared by documents, families and samples.
final class DocumentStorage: Sendable {
    let bytes: [UInt8]
    let samples: [SampleRecord]
    let families: [FamilyRecord]
    /// Indices into `families` of the selected families, in body order.
    let selected: [Int]
    let nameTable: NameIndexTable

    init(bytes: [UInt8], samples: [SampleRecord], families: [FamilyRecord], nameTable: NameIndexTable) {
        self.bytes = bytes
        self.samples = samples
        self.families = families
        self.selected = families.indices.filter { families[$0].selected }
        self.nameTable = nameTable
    }

    func familyIndex(named name: String) -> Int? {
        var name = name
        return name.withUTF8 { query -> Int? in
            guard let queryBase = query.baseAddress else { return nil }
            return bytes.withUnsafeBufferPointer { body -> Int? in
                guard let base = body.baseAddress else { return nil }
                let found = nameTable.find(hash: nameHash(queryBase, query.count)) { index in
                    let family = families[index]
                    return family.nameEnd - family.nameStart == query.count
                        && bytesEqual(base + family.nameStart, queryBase, query.count)
                }
                guard let found, families[found].selected else { return nil }
                return found
            }
        }
    }

    func string(_ start: Int, _ end: Int) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self) }
    }
}
