import Exposition

/// The legacy plain-HTTP port (10251 until Kubernetes 1.22, `--port`): it served /metrics and
/// /debug/pprof/ with no authentication at all. Refused = pass; a timeout proves nothing.
public struct InsecurePortCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "insecure_port_closed", cisID: "", severity: .critical,
        remediation: "set --port=0 (or drop --port and --address) and upgrade to a scheduler without the insecure port")

    static let paths = ["/healthz", "/metrics", "/debug/pprof/"]

    public init() {}

    public func requests(for target: TargetConfig) -> [ProbeRequest] {
        let port = target.security.insecurePort
        guard port != 0 else { return [] }
        return Self.paths.map { Self.request(path: $0, port: port) }
    }

    static func request(path: String, port: Int) -> ProbeRequest {
        ProbeRequest("insecure" + path, path: path, credential: .anonymous, destination: .insecurePort(port))
    }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let port = context.target.security.insecurePort
        let manifestPort = context.evidence.manifest?["port"].flatMap { Int($0) }
        var families: [OutputFamily] = []
        var answered = false
        var refused = 0
        var exposed: [String] = []
        if port != 0 {
            var exposures: [OutputSample] = []
            for path in Self.paths {
                let request = Self.request(path: path, port: port)
                if let response = poll.response(request) {
                    answered = true
                    if path != "/healthz" {
                        exposures.append(OutputSample(labels: [("port", String(port)), ("path", path)], value: (response.status == 200).gaugeValue))
                        if response.status == 200 { exposed.append(path) }
                    }
                } else if poll.error(request)?.kind == .connectRefused {
                    refused += 1
                }
            }
            if answered || refused == Self.paths.count {
                families.append(.gauge("kube_scheduler_insecure_port_open",
                                       "1 when the legacy plain-HTTP port answers HTTP; 1 is bad: anyone on the network reaches the scheduler without credentials. Set --port=0.",
                                       [OutputSample(labels: [("port", String(port))], value: answered.gaugeValue)]))
            }
            families.append(.gauge("kube_scheduler_insecure_port_exposes",
                                   "1 when the path answers 200 without credentials on the legacy plain-HTTP port; 1 is bad.",
                                   exposures))
        }

        let finding: SecurityFinding
        if answered {
            let detail = exposed.isEmpty ? "" : ", serving \(exposed.joined(separator: " and ")) without credentials"
            finding = SecurityFinding(Self.entry, .fail, "plain HTTP answers on port \(port)\(detail)")
        } else if let manifestPort, manifestPort != 0 {
            finding = SecurityFinding(Self.entry, .fail, "--port=\(manifestPort) in the manifest")
        } else if port != 0, refused == Self.paths.count {
            finding = SecurityFinding(Self.entry, .pass, "port \(port) refuses connections")
        } else if port == 0, manifestPort == 0 || (context.evidence.manifest != nil && manifestPort == nil) {
            finding = SecurityFinding(Self.entry, .pass, "probe disabled; the manifest sets no insecure port")
        } else {
            finding = SecurityFinding(Self.entry, .unknown, port == 0 ? "probe disabled and no manifest" : "port \(port) neither answered nor refused")
        }
        return CheckOutput(families: families, findings: [finding])
    }
}
