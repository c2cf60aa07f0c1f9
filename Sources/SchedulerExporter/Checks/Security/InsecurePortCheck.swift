import Exposition

/// The legacy plain-HTTP port (10251 until Kubernetes 1.22, `--port`): it served /metrics and
/// /debug/pprof/ with no authentication at all. Refused = pass; a timeout proves nothing; from
/// 1.23 on (the version from the scheduler's own kubernetes_build_info) it no longer exists.
public struct InsecurePortCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "insecure_port_closed", cisID: "", severity: .critical,
        remediation: "set --port=0 (or drop --port and --address) and upgrade to a scheduler without the insecure port")

    static let paths = ["/healthz", "/metrics", "/debug/pprof/"]

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] {
        let port = target.security.insecurePort
        guard port != 0 else { return [] }
        return Self.paths.map { Self.request(path: $0, port: port) }
    }

    static func request(path: String, port: Int) -> ProbeRequest {
        ProbeRequest("insecure" + path, path: path, credential: .anonymous, destination: .insecurePort(port))
    }

    /// Says why a refused default port on an old scheduler proves less than on a new one.
    static func servesByDefault(_ version: KubernetesVersion?) -> String {
        version.map { " (running \($0), which serves the insecure port unless --port=0)" } ?? ""
    }

    /// `--port` as the running process's command line states it (an absent flag counts only when
    /// the whole command line was seen), else as the manifest does; port nil: the source sets none.
    static func declaredPort(_ evidence: SchedulerEvidence) -> (port: Int?, subject: String, location: String)? {
        if let commandLine = evidence.commandLine {
            let (subject, location) = switch commandLine.source {
            case .cmdline: ("the command line", "on the command line")
            case .k3sConfig: ("k3s's config", "in k3s's config")
            }
            if let value = commandLine["port"] { return (Int(value), subject, location) }
            if commandLine.complete { return (nil, subject, location) }
        }
        guard let manifest = evidence.manifest else { return nil }
        return (manifest["port"].flatMap { Int($0) }, "the manifest", "in the manifest")
    }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let port = context.target.security.insecurePort
        let declared = Self.declaredPort(context.evidence)
        let declaredPort = declared?.port
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

        let version = context.evidence.kubernetesVersion
        let removed = version?.isAtLeast(1, 23) == true
        let probedClosed = port != 0 && refused == Self.paths.count
        let finding: SecurityFinding
        if answered {
            let detail = exposed.isEmpty ? "" : ", serving \(exposed.joined(separator: " and ")) without credentials"
            var note = ""
            if removed, let version { note = " (running \(version), which has had no insecure port since 1.23: another process listens there)" }
            finding = SecurityFinding(Self.entry, .fail, "plain HTTP answers on port \(port)\(detail)\(note)")
        } else if removed, let version {
            // The flag and the listener are gone, so neither a manifest --port nor a silent probe can mean open.
            let probe = probedClosed ? "port \(port) refuses connections; " : ""
            finding = SecurityFinding(Self.entry, .pass, "\(probe)removed in 1.23 (running \(version))")
        } else if let declared, let declaredPort, declaredPort != 0 {
            finding = SecurityFinding(Self.entry, .fail, "--port=\(declaredPort) \(declared.location)\(Self.servesByDefault(version))")
        } else if probedClosed {
            finding = SecurityFinding(Self.entry, .pass, "port \(port) refuses connections\(Self.servesByDefault(version))")
        } else if port == 0, let declared, declaredPort == 0 {
            finding = SecurityFinding(Self.entry, .pass, "probe disabled; \(declared.subject) sets --port=0")
        } else if port == 0, let declared, declaredPort == nil {
            if let version {
                // Up to 1.22 an absent --port means the default, 10251: open.
                finding = SecurityFinding(Self.entry, .fail, "\(declared.subject) sets no --port, so \(version) serves plain HTTP on 10251 (open by default up to 1.22)")
            } else {
                finding = SecurityFinding(Self.entry, .unknown, "probe disabled; \(declared.subject) sets no --port and the scheduler's version, which decides the default (open up to 1.22), is unknown")
            }
        } else {
            finding = SecurityFinding(Self.entry, .unknown, port == 0 ? "probe disabled and no command line or manifest" : "port \(port) neither answered nor refused")
        }
        return CheckOutput(families: families, findings: [finding])
    }
}
