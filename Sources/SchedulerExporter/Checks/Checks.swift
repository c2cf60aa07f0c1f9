/// Every check the exporter runs, in output order. A new check is a new file plus a line here
/// (and a row in the README's table); the catalogue follows from this list.
public enum Checks {
    public static let all: [any Check] = [
        HealthCheck(),
        SchedulerInfoCheck(),
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
