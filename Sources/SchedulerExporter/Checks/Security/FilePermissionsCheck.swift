import Exposition

/// CIS 1.1.5/1.1.6 (static pod manifest) and 1.1.15/1.1.16 (scheduler.conf): mode 600 or
/// stricter, owned by root:root. Judged from the stat(2) the poll stage made on the node's file
/// (the platform's path under the host root, `PollResult.files`); a file that cannot be stat'ed is
/// `unknown`, never `pass`, and so is a file the platform does not have (k3s has no manifest).
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
        let (file, permissions, ownership): (NodeFile?, SecurityChecks.Entry, SecurityChecks.Entry) = switch self.file {
        case .manifest: (Self.manifestFile(context), Self.manifestPermissions, Self.manifestOwnership)
        case .kubeconfig: (Self.kubeconfigFile(target: context.target, evidence: context.evidence), Self.kubeconfigPermissions, Self.kubeconfigOwnership)
        }
        guard let file else {
            let reason = switch self.file {
            case .manifest:
                SchedulerEvidence.manifestFile(target: context.target, platform: context.evidence.platform.platform).absence
                    ?? "no static pod manifest to look for"
            case .kubeconfig: "the scheduler names no kubeconfig and \(context.evidence.platform.platform.rawValue) has no fixed path for it"
            }
            return CheckOutput(findings: [SecurityFinding(permissions, .unknown, reason), SecurityFinding(ownership, .unknown, reason)])
        }
        let path = file.path
        guard let observation = poll.files[file.local] else {
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

    /// The manifest the poll stage looked for (the configured one, else the platform's).
    static func manifestFile(_ context: CheckContext) -> NodeFile? {
        context.evidence.manifestFile ?? SchedulerEvidence.manifestFile(target: context.target, platform: context.evidence.platform.platform).file
    }

    /// The configured path (read as given), else what the scheduler reports it uses (mapped
    /// through its static pod's mounts onto the node), else the platform's; nil when none says.
    static func kubeconfigFile(target: TargetConfig, evidence: SchedulerEvidence) -> NodeFile? {
        if let configured = target.security.kubeconfigFile { return NodeFile(path: configured, local: configured) }
        for candidate in [evidence.configz?.kubeconfig, evidence.flagz?["kubeconfig"], evidence.commandLine?["kubeconfig"],
                          evidence.commandLine?.config?.kubeconfig, evidence.manifest?["kubeconfig"], evidence.manifest?.config?.kubeconfig] {
            if let candidate, !candidate.isEmpty { return evidence.nodeFile(forSchedulerPath: candidate, security: target.security) }
        }
        return evidence.platform.layout.kubeconfig.map { NodeFile(path: $0, local: target.security.local($0)) }
    }

    /// The node path of `kubeconfigFile`, for tests and messages.
    static func kubeconfigPath(target: TargetConfig, evidence: SchedulerEvidence) -> String? {
        kubeconfigFile(target: target, evidence: evidence)?.path
    }
}
