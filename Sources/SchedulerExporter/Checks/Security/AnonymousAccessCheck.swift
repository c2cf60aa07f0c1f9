import Exposition

/// Requests without any credentials to the paths that leak data or control: any 200 means
/// `--authorization-always-allow-paths` (or anonymous RBAC) opened them to the network.
public struct AnonymousAccessCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "anonymous_access_denied", cisID: "", severity: .high,
        remediation: "keep --authorization-always-allow-paths to /healthz,/readyz,/livez and grant no RBAC to system:anonymous or system:unauthenticated")

    static let paths = ["/metrics", "/configz", "/debug/pprof/", "/flagz", "/statusz"]
    static let requests: [ProbeRequest] = paths.map {
        ProbeRequest("anonymous" + $0, path: $0, credential: .anonymous)
    }

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] { Self.requests }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        var samples: [OutputSample] = []
        var open: [String] = []
        var unanswered: [String] = []
        for (path, request) in zip(Self.paths, Self.requests) {
            guard let status = poll.status(request) else { unanswered.append(path); continue }
            samples.append(OutputSample(labels: [("path", path)], value: (status == 200).gaugeValue))
            if status == 200 { open.append(path) }
        }
        let finding: SecurityFinding
        if !open.isEmpty {
            finding = SecurityFinding(Self.entry, .fail, "anonymous 200 on \(open.joined(separator: ", "))")
        } else if unanswered.isEmpty {
            finding = SecurityFinding(Self.entry, .pass, "anonymous requests denied on every probed path")
        } else {
            finding = SecurityFinding(Self.entry, .unknown, "no answer on \(unanswered.joined(separator: ", "))")
        }
        return CheckOutput(families: [
            .gauge("kube_scheduler_anonymous_access",
                   "1 when a request without credentials got 200 on the path; 1 is bad: keep --authorization-always-allow-paths to health endpoints.",
                   samples),
        ], findings: [finding])
    }
}
