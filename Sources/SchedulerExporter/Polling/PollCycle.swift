import CurlHTTP
import Exposition
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Runs one poll of one target: every request the checks declared, concurrently, each with its
/// own timeout, then parses /metrics. Never throws: failures are data in the result.
struct PollCycle: Sendable {
    let target: TargetConfig
    let client: CurlClient
    let token: BearerTokenFile?
    let logger: Logger

    func run(_ requests: Set<ProbeRequest>) async -> PollResult {
        let started = ContinuousClock.now
        let startedAt = unixNow()
        var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:]
        await withTaskGroup(of: (ProbeRequest, Result<HTTPResponse, HTTPClientError>).self) { group in
            for request in requests {
                group.addTask { (request, await self.fetch(request)) }
            }
            for await (request, outcome) in group { responses[request] = outcome }
        }
        var result = PollResult(startedAt: startedAt, responses: responses)
        if let response = result.response(.metrics), response.status == 200 {
            do {
                let document = try ExpositionDocument(bytes: response.body, options: ParseOptions(lenient: true))
                result.metrics = document
                if let first = document.errors.first {
                    // Prometheus fails a whole scrape on one malformed line, so `up` does too (an
                    // HTML error page served with 200 is all malformed lines); the lines that did
                    // parse still feed the checks.
                    let firstError = redactingToken("\(first)")
                    result.metricsParseError = "\(document.errors.count) malformed line(s), first at \(firstError)"
                    // Debug only: the poller warns once when the target goes down, with this text.
                    logger.debug("skipped malformed lines in /metrics", metadata: [
                        "target": "\(target.name)", "count": "\(document.errors.count)", "first": "\(firstError)",
                    ])
                } else if document.sampleCount == 0 {
                    // A kube-scheduler always exposes samples: an empty 200 is a broken endpoint or proxy.
                    result.metricsParseError = "no samples in the /metrics body"
                }
            } catch {
                result.metricsParseError = redactingToken("\(error)")
            }
        }
        result.duration = ContinuousClock.now - started
        return result
    }

    /// Parse errors quote up to 64 bytes of the body, where a hostile target can echo the token.
    private func redactingToken(_ text: String) -> String {
        guard let token, case .success(let value) = token.current() else { return text }
        return value.redacted(in: text)
    }

    static let smallEndpointMaxBodyBytes = 1 << 20

    func fetch(_ probe: ProbeRequest) async -> Result<HTTPResponse, HTTPClientError> {
        // Validated with the config, so the URL always parses here.
        let base = URLParts(target.url) ?? URLParts("https://127.0.0.1:10259")!
        var request = HTTPRequest(url: url(for: probe, base: base))
        request.timeout = target.timeout
        request.connectTimeout = min(target.timeout, .seconds(5))
        // Only the metrics are big (330 KB on a real scheduler; /metrics/resources grows with the
        // pods); health, configz, flagz and pprof bodies are a few KB. A hostile target streaming
        // into every endpoint at once then costs one /metrics-sized buffer per identity, not one
        // per endpoint.
        let isMetrics = probe == .metrics || probe.path.hasPrefix("/metrics")
        request.maxBodyBytes = isMetrics ? target.maxBodyBytes : min(target.maxBodyBytes, Self.smallEndpointMaxBodyBytes)
        request.acceptCompressed = target.acceptCompressed
        // The */* alternative matters on EKS: its metrics API answers 406 to an Accept it cannot match.
        request.headers = [("Accept", isMetrics ? "text/plain;version=0.0.4;q=1,*/*;q=0.1" : "*/*")]
        switch (probe.destination, probe.transport) {
        case (.insecurePort, _):
            break
        case (.address, _):
            // Only "does it accept TLS here" matters; the serving cert rarely names node IPs.
            request.tls = TLSOptions(insecureSkipVerify: true)
        case (.securePort, .configured):
            request.tls = target.tls
        case (.securePort, .observe):
            request.tls = TLSOptions(insecureSkipVerify: true, serverName: target.tls.serverName)
            request.tls.allowLegacyVersions = true
            request.freshConnection = true
        case (.securePort, .verify):
            request.tls = TLSOptions(caFile: target.tls.caFile, serverName: target.tls.serverName)
            request.freshConnection = true
        case (.securePort, .legacyOnly):
            request.tls = TLSOptions(insecureSkipVerify: true, serverName: target.tls.serverName)
            request.tls.legacyOnly = true
            request.freshConnection = true
            request.captureCertificates = false
        }
        switch probe.credential {
        case .exporter:
            // Only the configured target's secure port ever gets the real credentials.
            if case .securePort = probe.destination {
                // Without a token the request still goes out (the 401 is what the checks see);
                // the token file logs its own changes of state, once each.
                if let token, case .success(let value) = token.current() { request.bearerToken = value }
            } else {
                request.tls.certFile = nil
                request.tls.keyFile = nil
            }
        case .anonymous:
            request.tls.certFile = nil
            request.tls.keyFile = nil
        case .invalidToken:
            request.tls.certFile = nil
            request.tls.keyFile = nil
            request.bearerToken = BearerToken(invalidBearerToken)
        }
        do {
            return .success(try await client.perform(request))
        } catch {
            return .failure(error)
        }
    }

    private func url(for probe: ProbeRequest, base: URLParts) -> String {
        switch probe.destination {
        case .securePort:
            // The exporter's own metrics request goes where the target serves them.
            return base.url(path: probe == .metrics ? target.metricsPath : probe.path)
        case .insecurePort(let port):
            var parts = base
            parts.scheme = "http"
            parts.port = port
            return parts.url(path: probe.path)
        case .address(let address):
            var parts = base
            parts.host = address
            return parts.url(path: probe.path)
        }
    }
}

func unixNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
