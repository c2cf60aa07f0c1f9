/// The metric types of the Prometheus text format 0.0.4 plus the OpenMetrics 1.0 additions.
public enum MetricType: String, Sendable, Hashable, CaseIterable {
    case counter, gauge, histogram, summary, untyped, info, stateset, gaugehistogram, unknown
}

/// A label as a name/value pair. A labelled tuple (not a struct) so that callers can write
/// `[("target", name)]` literals and destructure with `for (name, value) in labels`.
public typealias Label = (name: String, value: String)

/// Which families to keep and how to treat malformed lines.
public struct ParseOptions: Sendable {
    /// `false`: the first malformed line throws. `true`: malformed lines are recorded in
    /// `ExpositionDocument.errors` and skipped; everything else is kept.
    public var lenient: Bool
    /// Family names to keep; `nil` keeps all. Other families are skipped without parsing
    /// their values and do not appear in `ExpositionDocument.families`.
    public var families: Set<String>?
    /// A further filter on the raw family name bytes, called once per family. Both this and
    /// `families` must accept a family for it to be kept.
    public var familyPredicate: (@Sendable (UnsafeBufferPointer<UInt8>) -> Bool)?

    public init(lenient: Bool = false, families: Set<String>? = nil) {
        self.lenient = lenient
        self.families = families
        self.familyPredicate = nil
    }

    public init(lenient: Bool = false, familyPredicate: @escaping @Sendable (UnsafeBufferPointer<UInt8>) -> Bool) {
        self.lenient = lenient
        self.families = nil
        self.familyPredicate = familyPredicate
    }
}

/// A malformed line: 1-based line number, 1-based byte column within that line, and why.
public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let reason: String

    public init(line: Int, column: Int, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// What a sample name adds to its family name (`foo_bucket` in family `foo` is `.bucket`).
/// A sample whose name equals the family name is `.none`, so a text-0.0.4 counter family
/// `x_total` has `.none` samples, while an OpenMetrics-style counter family `x` has `.total`.
public enum SampleSuffix: UInt8, Sendable, Hashable {
    case none, bucket, sum, count, total, created, info, gsum, gcount

    public var text: String {
        switch self {
        case .none: ""
        case .bucket: "_bucket"
        case .sum: "_sum"
        case .count: "_count"
        case .total: "_total"
        case .created: "_created"
        case .info: "_info"
        case .gsum: "_gsum"
        case .gcount: "_gcount"
        }
    }
}
