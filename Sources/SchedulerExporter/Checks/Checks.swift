/// Every check the exporter runs, in output order. A new check is a new file plus a line here.
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
    public static let catalogue: [Entry] = [
        ProfilingCheck.entry, ContentionProfilingCheck.entry, BindAddressCheck.entry, InsecurePortCheck.entry,
        AnonymousAccessCheck.entry, AuthenticationCheck.entry, AuthorizationBypassCheck.entry,
        TLSCheck.certificateEntry, TLSCheck.versionEntry,
        FilePermissionsCheck.manifestPermissions, FilePermissionsCheck.manifestOwnership,
        FilePermissionsCheck.kubeconfigPermissions, FilePermissionsCheck.kubeconfigOwnership,
        AlphaFeatureGatesCheck.entry,
    ]
}
