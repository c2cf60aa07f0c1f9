import CurlHTTP
import Exposition

/// What one poll cycle saw: every response (or error) by request, and the parsed /metrics body.
/// Immutable; checks derive from it and nothing else.
public struct PollResult: Sendable {
    public var startedAt: Double           // unix seconds
    public var duration: Duration
    public var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>]
    /// The parsed /metrics body when it answered 200; lenient parsing keeps all good families.
    public var metrics: ExpositionDocument?
    public var metricsParseError: String?

    public init(startedAt: Double, duration: Duration = .zero,
                responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:],
                metrics: ExpositionDocument? = nil, metricsParseError: String? = nil) {
        self.startedAt = startedAt
        self.duration = duration
        self.responses = responses
        self.metrics = metrics
        self.metricsParseError = metricsParseError
    }

    public func response(_ request: ProbeRequest) -> HTTPResponse? {
        if case .success(let response)? = responses[request] { return response }
        return nil
    }

    public func error(_ request: ProbeRequest) -> HTTPClientError? {
        if case .failure(let error)? = responses[request] { return error }
        return nil
    }

    /// The status code, or nil when the request got no HTTP answer.
    public func status(_ request: ProbeRequest) -> Int? { response(request)?.status }

    /// The body as text when the request answered 200.
    public func okBody(_ request: ProbeRequest) -> String? {
        guard let response = response(request), response.status == 200 else { return nil }
        return String(decoding: response.body, as: UTF8.self)
    }

    /// `up` in the Prometheus sense: /metrics answered 200 and parsed.
    public var up: Bool { metrics != nil && metricsParseError == nil }
}
