/// The Kubernetes distributions whose scheduler the exporter knows how to find on a node. Each one
/// puts the scheduler somewhere else (from the distributions' own docs and code, and kube-bench's
/// `cfg/config.yaml`): kubeadm (and kind, which runs kubeadm) a static pod with its kubeconfig in
/// /etc/kubernetes; RKE2 a static pod under /var/lib/rancher/rke2; k3s no pod at all, the scheduler
/// runs inside the `k3s server` process; Talos a static pod with its secrets under /system;
/// OpenShift an operator-managed static pod whose config and kubeconfig live in a revision
/// directory of /etc/kubernetes/static-pod-resources.
public enum Platform: String, Sendable, CaseIterable {
    case kubeadm, rke2, k3s, talos, openshift
}

/// `--platform`: a fixed platform, or `auto` to detect it from the node's files.
public enum PlatformChoice: Sendable, Equatable, CustomStringConvertible {
    case auto
    case fixed(Platform)

    public init?(_ text: String) {
        if text == "auto" { self = .auto; return }
        guard let platform = Platform(rawValue: text) else { return nil }
        self = .fixed(platform)
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .fixed(let platform): platform.rawValue
        }
    }

    public static let allNames = ["auto"] + Platform.allCases.map(\.rawValue)
}

/// Where one platform keeps the scheduler's files, as the node names them (absolute paths, read
/// under `SecurityProbeConfig.hostRoot`).
public struct PlatformLayout: Sendable, Equatable {
    public var platform: Platform
    /// The static pod manifest; nil where the scheduler runs without one.
    public var manifest: String?
    /// Why there is no manifest, for the `unknown` verdicts of CIS 1.1.5/1.1.6.
    public var noManifestReason: String?
    /// The scheduler's kubeconfig when the scheduler names none; nil where only the scheduler's
    /// configuration can tell (OpenShift's lives in the static pod's current revision directory).
    public var kubeconfig: String?
    /// Files whose presence identifies the platform.
    public var markers: [String]
    /// The k3s config file and its drop-in directory, whose `kube-scheduler-arg` values are the
    /// scheduler's flags when the command line is hidden.
    public var k3sConfig: (file: String, dropIns: String)? {
        platform == .k3s ? ("/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/config.yaml.d") : nil
    }

    public static let k3sNoManifest = "k3s runs the scheduler inside the k3s server process: no static pod manifest"

    public static func of(_ platform: Platform) -> PlatformLayout {
        switch platform {
        case .kubeadm:
            PlatformLayout(platform: platform, manifest: "/etc/kubernetes/manifests/kube-scheduler.yaml",
                           kubeconfig: "/etc/kubernetes/scheduler.conf",
                           markers: ["/etc/kubernetes/manifests/kube-scheduler.yaml", "/etc/kubernetes/scheduler.conf"])
        case .rke2:
            PlatformLayout(platform: platform, manifest: "/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml",
                           kubeconfig: "/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig",
                           markers: ["/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml",
                                     "/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig"])
        case .k3s:
            PlatformLayout(platform: platform, manifest: nil, noManifestReason: k3sNoManifest,
                           kubeconfig: "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig",
                           markers: ["/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig"])
        case .talos:
            PlatformLayout(platform: platform, manifest: "/etc/kubernetes/manifests/talos-kube-scheduler.yaml",
                           kubeconfig: "/system/secrets/kubernetes/kube-scheduler/kubeconfig",
                           markers: ["/etc/kubernetes/manifests/talos-kube-scheduler.yaml",
                                     "/system/secrets/kubernetes/kube-scheduler/kubeconfig"])
        case .openshift:
            PlatformLayout(platform: platform, manifest: "/etc/kubernetes/manifests/kube-scheduler-pod.yaml",
                           kubeconfig: nil, markers: ["/etc/kubernetes/manifests/kube-scheduler-pod.yaml"])
        }
    }

    init(platform: Platform, manifest: String?, noManifestReason: String? = nil, kubeconfig: String?, markers: [String]) {
        self.platform = platform
        self.manifest = manifest
        self.noManifestReason = noManifestReason
        self.kubeconfig = kubeconfig
        self.markers = markers
    }

    /// Most specific first: Talos and OpenShift keep their manifests in kubeadm's directory under
    /// other names, and RKE2 is checked before k3s because both live under /var/lib/rancher.
    public static let detectionOrder: [Platform] = [.talos, .openshift, .rke2, .k3s, .kubeadm]

    /// The first platform one of whose marker files is present; nil when none is.
    public static func detect(present: (String) -> Bool) -> Platform? {
        detectionOrder.first { platform in of(platform).markers.contains(where: present) }
    }
}

/// The platform a poll used, and how it was chosen.
public struct PlatformObservation: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// A marker file of the platform is on the node.
        case detected
        /// `--platform` (or `security.platform`) names it.
        case flag
        /// Nothing was found; kubeadm's paths are used, and their files are reported missing.
        case `default`
    }

    public var platform: Platform
    public var source: Source

    public init(platform: Platform, source: Source) {
        self.platform = platform
        self.source = source
    }

    public var layout: PlatformLayout { .of(platform) }
}
