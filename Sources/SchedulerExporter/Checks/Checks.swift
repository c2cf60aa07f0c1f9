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
    /// Every check's output on `poll`, in order.
    static func evaluate(_ checks: [any Check], _ poll: PollResult, context: CheckContext) -> CheckOutput {
        var output = CheckOutput()
        for check in checks {
            let result = check.evaluate(poll, context: context)
            output.families += result.families
            output.findings += result.findings
            output.dropped.merge(result.dropped)
        }
        return output
    }
}
