import Exposition

/// `/healthz`, `/livez`, `/readyz` with `?verbose`: the endpoint's overall status and every named
/// check in the body (`[+]ping ok`, `[-]leaderElection failed: reason withheld`).
public struct HealthCheck: Check {
    static let endpoints: [ProbeRequest] = [.healthz, .livez, .readyz]

    public init() {}

    public func requests(for target: TargetConfig) -> [ProbeRequest] { Self.endpoints }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        var overall: [OutputSample] = []
        var perCheck: [OutputSample] = []
        var dropped = DroppedTargetData()
        for request in Self.endpoints {
            guard let response = poll.response(request) else { continue }
            // The API server authorizes before it routes, so a 404 reached an authorized caller:
            // this scheduler has no such endpoint (older releases lack /livez and /readyz), which
            // says nothing about its health.
            guard response.status != 404 else { continue }
            overall.append(OutputSample(labels: [("endpoint", request.endpoint)], value: (response.status == 200).gaugeValue))
            // A 401/403 body is an API Status object, not a health report.
            guard response.status == 200 || response.status == 500 else { continue }
            // The body is the target's to write: a name once (a repeat would be a duplicate
            // series) and a bounded number of them.
            var seen = Set<String>()
            for check in Self.parseVerbose(response.body) {
                guard seen.count < TargetDataLimits.maxHealthChecksPerEndpoint, seen.insert(check.name).inserted else {
                    dropped.add(.healthChecks)
                    continue
                }
                perCheck.append(OutputSample(labels: [("endpoint", request.endpoint), ("check", check.name)],
                                             value: check.ok.gaugeValue))
            }
        }
        return CheckOutput(families: [
            .gauge("kube_scheduler_health_status",
                   "1 when the scheduler's health endpoint (healthz, livez, readyz) answered 200 to the exporter; 0 means unhealthy or not ready; absent for an endpoint the scheduler does not serve (404: older releases have no livez/readyz).",
                   overall),
            .gauge("kube_scheduler_health_check_status",
                   "1 for each named check reported ok ([+]) in the endpoint's ?verbose body, 0 for a failed one ([-]); 0 is bad.",
                   perCheck),
        ], dropped: dropped)
    }

    public struct NamedCheck: Sendable, Equatable {
        public var name: String
        public var ok: Bool
    }

    /// Parses a `?verbose` health body. Lines that are not `[+]`/`[-]` entries are ignored; names
    /// are taken up to the first space, as the apiserver's healthz package writes them.
    public static func parseVerbose(_ body: [UInt8]) -> [NamedCheck] {
        var checks: [NamedCheck] = []
        for line in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard line.count > 3, line[line.startIndex] == UInt8(ascii: "["),
                  line[line.startIndex + 2] == UInt8(ascii: "]") else { continue }
            let sign = line[line.startIndex + 1]
            guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { continue }
            let rest = line[(line.startIndex + 3)...]
            let name = rest.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }
            guard !name.isEmpty, name.count <= 256 else { continue }
            checks.append(NamedCheck(name: String(decoding: name, as: UTF8.self), ok: sign == UInt8(ascii: "+")))
        }
        return checks
    }
}
