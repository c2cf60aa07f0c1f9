import Exposition

/// CIS 1.1.5/1.1.6 (static pod manifest) and 1.1.15/1.1.16 (scheduler.conf): mode 600 or
/// stricter, owned by root:root. Judged from the stat(2) the poll stage made on the host path
/// mounted into the exporter (`PollResult.files`); a file that cannot be stat'ed is `unknown`,
/// never `pass`.
public struct FilePermissionsCheck: Check {
    public enum File: Sendable { case manifest, kubeconfig }

    public static let manifestPermissions = SecurityChecks.Entry(
        check: "manifest_permissions", cisID: "1.1.5", severity: .medium,
        remediation: "chmod 600 /etc/kubernetes/manifests/kube-scheduler.yaml")
    public static let manifestOwnership = SecurityChecks.Entry(
        check: "manifest_ownership", cisID: "1.1.6", severity: .medium,
        remediation: "chown root:root /etc/kubernetes/manifests/kube-scheduler.yaml")
    public static let kubeconfigPermissions = SecurityChecks.Entry(
        check: "kubeconfig_permissions", cisID: "1.1.15", severity: .medium,
        remediation: "chmod 600 /etc/kubernetes/scheduler.conf")
    public static let kubeconfigOwnership = SecurityChecks.Entry(
        check: "kubeconfig_ownership", cisID: "1.1.16", severity: .medium,
        remediation: "chown root:root /etc/kubernetes/scheduler.conf")

    let file: File

    public init(_ file: File) {
        self.file = file
    }

    public var entries: [SecurityChecks.Entry] {
        switch file {
        case .manifest: [Self.manifestPermissions, Self.manifestOwnership]
        case .kubeconfig: [Self.kubeconfigPermissions, Self.kubeconfigOwnership]
        }
    }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let (path, permissions, ownership) = switch file {
        case .manifest: (context.target.security.manifestFile, Self.manifestPermissions, Self.manifestOwnership)
        case .kubeconfig: (Self.kubeconfigPath(target: context.target, evidence: context.evidence), Self.kubeconfigPermissions, Self.kubeconfigOwnership)
        }
        guard let observation = poll.files[path] else {
            return CheckOutput(findings: [
                SecurityFinding(permissions, .unknown, "\(path) was not observed"),
                SecurityFinding(ownership, .unknown, "\(path) was not observed"),
            ])
        }
        switch observation.status {
        case .failure(let error):
            context.logger.debug("file check cannot stat its file", metadata: ["target": "\(context.target.name)", "error": "\(error)"])
            return CheckOutput(findings: [
                SecurityFinding(permissions, .unknown, "cannot stat: \(error)"),
                SecurityFinding(ownership, .unknown, "cannot stat: \(error)"),
            ])
        case .success(let status):
            let mode = String(status.mode, radix: 8)
            let strictEnough = status.mode & 0o177 == 0  // no more than rw for the owner
            let rootOwned = status.uid == 0 && status.gid == 0
            let labels = [("file", path)]
            return CheckOutput(families: [
                .gauge("kube_scheduler_file_mode", "Permission bits of the scheduler's manifest and kubeconfig on the node (CIS 1.1.5, 1.1.15: 0600 or stricter); looser is bad.",
                       [OutputSample(labels: labels, value: Double(status.mode))]),
                .gauge("kube_scheduler_file_root_owned", "1 when the file is owned by root:root (CIS 1.1.6, 1.1.16); 0 is bad.",
                       [OutputSample(labels: labels, value: rootOwned.gaugeValue)]),
            ], findings: [
                SecurityFinding(permissions, strictEnough ? .pass : .fail, "\(path) has mode \(mode)"),
                SecurityFinding(ownership, rootOwned ? .pass : .fail, "\(path) is owned by \(status.uid):\(status.gid)"),
            ])
        }
    }

    /// The configured path, else what the scheduler reports it uses, else the kubeadm default.
    static func kubeconfigPath(target: TargetConfig, evidence: SchedulerEvidence) -> String {
        if let configured = target.security.kubeconfigFile { return configured }
        for candidate in [evidence.configz?.kubeconfig, evidence.flagz?["kubeconfig"], evidence.manifest?["kubeconfig"],
                          evidence.manifest?.config?.kubeconfig] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        return SecurityProbeConfig.defaultKubeconfigFile
    }
}
