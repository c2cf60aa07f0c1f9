import CurlHTTP
import Exposition

/// What one poll cycle saw: every response (or error) by request, the parsed /metrics body and
/// the node's files the checks judge. Immutable; checks derive from it and nothing else, so a
/// test can hand a check exactly what a real scheduler and node produced.
public struct PollResult: Sendable {
    public var startedAt: Double           // unix seconds
    public var duration: Duration
    public var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>]
    /// The parsed /metrics body when it answered 200; lenient parsing keeps all good families.
    public var metrics: ExpositionDocument?
    public var metricsParseError: String?
    /// The static pod manifest, the --config file it names and the scheduler's kubeconfig, by the
    /// path the exporter read them at, as the poll stage found them on the node.
    public var files: [String: FileObservation]
    /// Directories the poll stage listed (k3s's config drop-ins), by path: their entry names.
    public var directories: [String: Result<[String], FileError>] = [:]
    /// The platform whose file layout the poll used; nil when the node was not looked at
    /// (metrics-only targets).
    public var platform: PlatformObservation?
    /// The scheduler processes visible under the host root's /proc; nil when not looked, with
    /// `processProblem` saying why.
    public var processes: [ProcessObservation]?
    public var processProblem: String?

    public init(startedAt: Double, duration: Duration = .zero,
                responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:],
                metrics: ExpositionDocument? = nil, metricsParseError: String? = nil,
                files: [String: FileObservation] = [:]) {
        self.startedAt = startedAt
        self.duration = duration
        self.responses = responses
        self.metrics = metrics
        self.metricsParseError = metricsParseError
        self.files = files
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

/// One file of the node as the poll stage found it.
public struct FileObservation: Sendable, Equatable {
    public var status: Result<FileAccess.Status, FileError>
    /// The contents, when the poll stage read them (nil: not asked for, unreadable, or over the limit).
    public var text: String?

    public init(status: Result<FileAccess.Status, FileError>, text: String? = nil) {
        self.status = status
        self.text = text
    }

    /// stat(2) of `path`, and its contents up to `limit` bytes when a limit is given.
    public static func observe(_ path: String, readingUpTo limit: Int? = nil) -> FileObservation {
        FileObservation(status: FileAccess.status(path), text: limit.flatMap { FileAccess.readText(path, limit: $0) })
    }
}
