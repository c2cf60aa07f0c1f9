import Exposition

/// A deliberately invalid bearer token must get 401: the scheduler then delegates authentication
/// to the API server instead of accepting anything.
public struct AuthenticationCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "authentication_enforced", cisID: "", severity: .high,
        remediation: "run the scheduler with --authentication-kubeconfig so it delegates token review to the API server")

    static let request = ProbeRequest("invalid_token", path: "/metrics", credential: .invalidToken)

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] { [Self.request] }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        guard let status = poll.status(Self.request) else {
            return CheckOutput(findings: [SecurityFinding(Self.entry, .unknown, "invalid-token request got no answer")])
        }
        let enforced = status == 401
        return CheckOutput(families: [
            .gauge("kube_scheduler_authentication_enforced",
                   "1 when a request with an invalid bearer token got 401; 0 is bad: the scheduler accepts unauthenticated identities.",
                   value: enforced.gaugeValue),
        ], findings: [SecurityFinding(Self.entry, enforced ? .pass : .fail, "invalid token got HTTP \(status)")])
    }
}
