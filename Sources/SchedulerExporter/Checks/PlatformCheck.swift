import Exposition

/// Which distribution's file layout the poll used to find the scheduler's manifest, kubeconfig and
/// flags, and whether it was detected on the node or given with `--platform`.
public struct PlatformCheck: Check {
    public init() {}

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        guard let platform = poll.platform else { return CheckOutput() }
        return CheckOutput(families: [
            .info("kube_scheduler_platform_info",
                  "The platform whose file layout locates the scheduler's manifest, kubeconfig and flags (kubeadm, rke2, k3s, talos, openshift), and how it was chosen: detected from the node's files, given with --platform (flag), or kubeadm's by default when nothing was found.",
                  labels: [("platform", platform.platform.rawValue), ("source", platform.source.rawValue)]),
        ])
    }
}
