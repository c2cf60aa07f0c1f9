/// How long an outside-in probe may take, from Prometheus's `X-Prometheus-Scrape-Timeout-Seconds`
/// header, the way blackbox_exporter reads it: clamped to `--probe.max-timeout`, then half a second
/// left for the answer to travel back. The header is the client's to write, so nothing in it may
/// trap (`1e300`, `inf` and `nan` all parse as `Double`) or hold a probe slot longer than the
/// configured maximum (`1e7` would be four months).
///
/// Garbage (not a number, NaN, zero or negative) is refused with 400 rather than replaced by a
/// default: Prometheus always sends a positive number, so anything else is a broken or hostile
/// client, and saying so beats probing with a budget it did not ask for. `+inf` and numbers above
/// the maximum are well-formed requests for "as long as you allow" and get the maximum.
public enum ProbeTimeout {
    public static let headerName = "X-Prometheus-Scrape-Timeout-Seconds"
    /// Left to Prometheus to receive the answer, as blackbox_exporter's default `--timeout-offset`.
    public static let offsetSeconds = 0.5
    /// Longer header values are refused before parsing: no number needs more.
    static let maxHeaderLength = 64

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notANumber(String)
        case notPositive(String)

        public var description: String {
            switch self {
            case .notANumber(let text): "\(ProbeTimeout.headerName) \"\(text)\" is not a number of seconds"
            case .notPositive(let text): "\(ProbeTimeout.headerName) \"\(text)\" must be positive"
            }
        }
    }

    /// The probe's budget: the header's seconds (or `maximum` without the header) clamped to
    /// `maximum`, minus the offset (halved instead when a second or less is left). Always finite,
    /// positive and at most `maximum`.
    public static func budget(header: String?, maximum: Duration) -> Result<Duration, Problem> {
        let maximumSeconds = maximum.seconds
        var seconds = maximumSeconds
        if let header {
            let text = header.trimmingBlanks()
            let shown = String(text.prefix(maxHeaderLength))
            guard text.utf8.count <= maxHeaderLength, let value = Double(text), !value.isNaN else { return .failure(.notANumber(shown)) }
            guard value > 0 else { return .failure(.notPositive(shown)) }
            seconds = min(value, maximumSeconds)
        }
        let budget = seconds > 2 * offsetSeconds ? seconds - offsetSeconds : seconds / 2
        // Bounded by `maximum` above, so the conversion cannot overflow.
        return .success(.nanoseconds(Int64(budget * 1e9)))
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingBlanks() -> Substring {
        var result = self[...]
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
