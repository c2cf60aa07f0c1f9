/// Durations written the way Prometheus writes them (`15s`, `1m30s`, `500ms`, `5m`, `1h`), so that
/// flags and config files read like the rest of a Prometheus setup.
public enum PrometheusDuration {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000), ("y", 365 * 86_400 * 1_000_000_000), ("w", 7 * 86_400 * 1_000_000_000),
        ("d", 86_400 * 1_000_000_000), ("h", 3_600 * 1_000_000_000), ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
    ]

    public static func parse(_ text: String) throws(ConfigError) -> Duration {
        var rest = Substring(text)
        guard !rest.isEmpty else { throw ConfigError("empty duration") }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let amount = Int64(digits) else {
                throw ConfigError("invalid duration \"\(text)\" (expected e.g. 15s, 1m30s, 500ms)")
            }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else {
                throw ConfigError("invalid duration \"\(text)\": missing or unknown unit (ms, s, m, h, d, w, y)")
            }
            rest = rest.dropFirst(unit.suffix.count)
            let (product, overflow) = amount.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { throw ConfigError("duration \"\(text)\" is too long") }
            total += product
        }
        return .nanoseconds(total)
    }

    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1_000 == 0 { return "\(ms / 1_000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A configuration problem, said in one line; the executable prints it and exits with code 2.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
