/// Every check the exporter runs, in output order. A new check is a new file plus a line here
/// (and a row in the README's table); the catalogue follows from this list.
public enum Checks {
    public static let all: [any Check] = [
        HealthCheck(),
        SchedulerInfoCheck(),
        PlatformCheck(),
        ProfilingCheck(),
        ContentionProfilingCheck(),
        BindAddressCheck(),
        InsecurePortCheck(),
        AnonymousAccessCheck(),
        AuthenticationCheck(),
        AuthorizationBypassCheck(),
        TLSCheck(),
        FilePermissionsCheck(.manifest),
        FilePermissionsCheck(.kubeconfig),
        AlphaFeatureGatesCheck(),
    ]
}

extension SecurityChecks {
    /// Every security check's id, CIS id, severity and remediation (README table, HELP text).
    public static let catalogue: [Entry] = Checks.all.flatMap(\.entries)
}

extension Checks {
    static let metricsOnlyReason = "metrics-only target: the control plane is managed"

    /// Every check's output on `poll`, in order. A metrics-only target (a managed control plane)
    /// shows the exporter only the scheduler's metrics: the checks that need more (its ports, its
    /// node, its other endpoints) report each of their entries `unknown` with that reason.
    static func evaluate(_ checks: [any Check], _ poll: PollResult, context: CheckContext) -> CheckOutput {
        var output = CheckOutput()
        for check in checks {
            if context.target.kind == .metricsOnly, !check.readsOnlyMetrics {
                output.findings += check.entries.map { SecurityFinding($0, .unknown, metricsOnlyReason) }
                continue
            }
            let result = check.evaluate(poll, context: context)
            output.families += result.families
            output.findings += result.findings
            output.dropped.merge(result.dropped)
        }
        return output
    }

    /// What a poll of `target` requests: a metrics-only target is asked for its metrics and
    /// nothing else (with `planned`, the target with the host's defaults resolved, for the others).
    static func requests(_ checks: [any Check], for target: TargetConfig, planned: TargetConfig) -> Set<ProbeRequest> {
        guard target.kind == .scheduler else { return [.metrics] }
        var requests = Set<ProbeRequest>([.metrics] + SchedulerEvidence.requests)
        for check in checks { requests.formUnion(check.requests(for: planned)) }
        return requests
    }
}
