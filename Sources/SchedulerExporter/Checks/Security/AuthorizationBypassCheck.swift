import Exposition

/// `--authorization-always-allow-paths` skips RBAC for the listed paths; only health endpoints
/// belong there (the upstream default is /healthz,/readyz,/livez).
public struct AuthorizationBypassCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "authorization_not_bypassed", cisID: "", severity: .high,
        remediation: "list only /healthz, /readyz and /livez in --authorization-always-allow-paths")

    static let healthPaths: Set<String> = ["/healthz", "/readyz", "/livez"]

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let evidence = context.evidence
        let paths: [String]
        let source: String
        if let list = evidence.flagz?.list("authorization-always-allow-paths") {
            (paths, source) = (list, "flagz")
        } else if let commandLine = evidence.commandLine, let value = commandLine["authorization-always-allow-paths"] {
            (paths, source) = (Self.list(value), commandLine.source.rawValue)
        } else if let commandLine = evidence.commandLine, commandLine.complete {
            // The whole command line was seen and does not set it: the upstream default.
            (paths, source) = (Array(Self.healthPaths), "\(commandLine.source.rawValue) default")
        } else if let value = evidence.manifest?["authorization-always-allow-paths"] {
            (paths, source) = (Self.list(value), "manifest")
        } else if evidence.manifest != nil {
            (paths, source) = (Array(Self.healthPaths), "manifest default")
        } else {
            return CheckOutput(findings: [SecurityFinding(Self.entry, .unknown, "\(Self.flagzState(poll)); no command line or manifest to read the flag from")])
        }
        let extra = paths.filter { !Self.isHealthPath($0) }
        if extra.isEmpty {
            return CheckOutput(findings: [SecurityFinding(Self.entry, .pass, "only health paths are always allowed (\(source))")])
        }
        return CheckOutput(findings: [SecurityFinding(Self.entry, .fail, "always allowed without RBAC: \(extra.joined(separator: ",")) (\(source))")])
    }

    /// Why flagz did not tell: a 404 reached an authorized caller (the API server authorizes
    /// before it routes), so the page is not served, which is no refusal of the exporter.
    static func flagzState(_ poll: PollResult) -> String {
        switch poll.status(.flagz) {
        case 404?: "/flagz is not served (404 to the exporter: the ComponentFlagz feature gate is off, or the release predates it)"
        case let status? where status == 401 || status == 403: "/flagz refused the exporter (HTTP \(status))"
        case 200?: "/flagz does not list authorization-always-allow-paths"
        case let status?: "/flagz answered HTTP \(status)"
        case nil: "no answer from /flagz"
        }
    }

    static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmingWhitespace() }
    }

    static func isHealthPath(_ path: String) -> Bool {
        healthPaths.contains(path) || healthPaths.contains { path.hasPrefix($0 + "/") }
    }
}
