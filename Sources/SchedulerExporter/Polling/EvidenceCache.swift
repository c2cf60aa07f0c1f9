import CurlHTTP
import Exposition

/// The answers that change only when the scheduler restarts or is reconfigured (configz, flagz,
/// the pprof index, the anonymous and invalid-token requests, the legacy port, the node's other
/// addresses, the TLS observations), kept between polls and fetched again on the slower
/// `evidence_interval`. Every request with a token costs the API server a TokenReview and a
/// SubjectAccessReview (the scheduler caches them about 10 s), so fetching these on every poll made
/// the exporter cost several times what a direct Prometheus scrape does, for answers that rarely
/// change. `/metrics` and the health endpoints, which do change, are fetched on every poll.
struct EvidenceCache: Sendable {
    struct Entry: Sendable {
        /// Unix seconds of the poll that fetched it.
        var fetchedAt: Double
        var outcome: Result<HTTPResponse, HTTPClientError>
    }

    let refreshInterval: Duration
    private(set) var entries: [ProbeRequest: Entry] = [:]
    private var processStart: Double?

    init(refreshInterval: Duration) {
        self.refreshInterval = refreshInterval
    }

    /// Requests read on every poll: what moves between polls.
    static func isEveryPoll(_ request: ProbeRequest) -> Bool {
        request == .metrics || request == .metricsResources || request == .healthz || request == .livez || request == .readyz
    }

    /// An answer that holds until the scheduler changes: any HTTP response, a refused connection
    /// (nothing listens there), a refused TLS 1.0/1.1 handshake. Timeouts and other errors say
    /// nothing and are asked again on the next poll.
    static func stands(_ request: ProbeRequest, _ outcome: Result<HTTPResponse, HTTPClientError>) -> Bool {
        if case .failure(let error) = outcome, error.kind == .connectRefused { return true }
        return TLSCheck.observationStands(request, outcome)
    }

    /// The requests to fetch now, and the kept answers that stand in for the others.
    func plan(_ requests: Set<ProbeRequest>, now: Double) -> (fetch: Set<ProbeRequest>, reused: [ProbeRequest: Entry]) {
        var fetch = Set<ProbeRequest>()
        var reused: [ProbeRequest: Entry] = [:]
        let maxAge = refreshInterval.seconds
        for request in requests {
            if !Self.isEveryPoll(request), let entry = entries[request], now - entry.fetchedAt < maxAge {
                reused[request] = entry
            } else {
                fetch.insert(request)
            }
        }
        return (fetch, reused)
    }

    /// Keeps the fetched answers that stand; forgets the ones that did not.
    mutating func record(_ responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>], at time: Double) {
        for (request, outcome) in responses where !Self.isEveryPoll(request) {
            entries[request] = Self.stands(request, outcome) ? Entry(fetchedAt: time, outcome: outcome) : nil
        }
    }

    mutating func forgetAll() {
        entries.removeAll()
    }

    /// True when `/metrics` shows another scheduler process than the last poll that saw one (a new
    /// `process_start_time_seconds`): its flags, certificate and listeners may all be new.
    mutating func sawRestart(_ document: ExpositionDocument?) -> Bool {
        guard let started = document?.family(named: "process_start_time_seconds")?.samples.first?.value else { return false }
        defer { processStart = started }
        return processStart.map { $0 != started } ?? false
    }

    /// How old each answer of a poll is, by endpoint and credential (the oldest when several
    /// requests share them, e.g. one per non-loopback address).
    static func ages(of poll: PollResult, reused: [ProbeRequest: Entry]) -> [OutputSample] {
        var oldest: [String: (credential: String, endpoint: String, age: Double)] = [:]
        for request in poll.responses.keys {
            let age = reused[request].map { max(0, poll.startedAt - $0.fetchedAt) } ?? 0
            let key = "\(request.endpoint)\u{0}\(request.credential.rawValue)"
            if let current = oldest[key], current.age >= age { continue }
            oldest[key] = (request.credential.rawValue, request.endpoint, age)
        }
        return oldest.values.sorted { ($0.endpoint, $0.credential) < ($1.endpoint, $1.credential) }.map {
            OutputSample(labels: [("endpoint", $0.endpoint), ("credential", $0.credential)], value: $0.age)
        }
    }
}
