import CurlHTTP

/// Everything the exporter needs to run, validated; built from flags and/or a YAML file.
public struct ExporterConfig: Sendable {
    public var listenAddress: ListenAddress
    public var targets: [TargetConfig]
    /// Regex (fully anchored) of the scheduler's own families re-served on /scheduler/metrics;
    /// empty turns the endpoint off.
    public var passthroughFamilies: String = ExporterConfig.defaultPassthroughFamilies
    public var probe = OutsideInProbeConfig()
    /// What the exporter's own HTTP server gives one client at most.
    public var server = ServerLimits()
    /// Re-serve the scheduler's `/metrics/resources` (`kube_pod_resource_request`/`_limit`) on
    /// `/scheduler/metrics/resources`, polled with the rest; off by default (one pod x resource series each).
    public var passthroughResources = false

    /// What kubernetes-mixin's scheduler dashboard and rules read.
    public static let defaultPassthroughFamilies =
        "scheduler_.*|rest_client_requests_total|rest_client_request_duration_seconds.*|process_.*|go_goroutines|leader_election_master_status|kubernetes_build_info"

    public init(listenAddress: ListenAddress = .default, targets: [TargetConfig]) {
        self.listenAddress = listenAddress
        self.targets = targets
    }

    public func validated() throws(ConfigError) -> ExporterConfig {
        guard !targets.isEmpty else { throw ConfigError("no targets configured") }
        var seen = Set<String>()
        for target in targets {
            guard seen.insert(target.name).inserted else {
                throw ConfigError("duplicate target name \"\(target.name)\"")
            }
            try target.validate()
        }
        if !passthroughFamilies.isEmpty {
            do { _ = try Regex(passthroughFamilies) } catch {
                throw ConfigError("--passthrough.families: invalid regex \"\(passthroughFamilies)\"")
            }
        }
        guard server.maxRequests >= 0 else { throw ConfigError("--web.max-requests must be 0 (no limit) or positive") }
        guard server.maxConnections > 0 else { throw ConfigError("--web.max-connections must be positive") }
        guard !probe.allowedPorts.isEmpty, probe.allowedPorts.allSatisfy({ (1...65535).contains($0) }) else {
            throw ConfigError("--probe.allowed-ports: expected ports between 1 and 65535")
        }
        guard probe.maxConcurrent > 0 else { throw ConfigError("--probe.max-concurrent must be positive") }
        guard probe.maxTimeout > .zero, probe.maxTimeout <= OutsideInProbeConfig.maxTimeoutLimit else {
            throw ConfigError("--probe.max-timeout must be positive and at most \(PrometheusDuration.format(OutsideInProbeConfig.maxTimeoutLimit))")
        }
        return self
    }
}

public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// 10269: outside the 9100-9999 range of the Prometheus default port allocations (so no
    /// registered exporter uses it) and free among the control-plane ports (10248-10259) on the
    /// host network the DaemonSet shares with the scheduler.
    public static let defaultPort = 10269
    public static let `default` = ListenAddress(host: "0.0.0.0", port: defaultPort)

    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Accepts `HOST:PORT`, `:PORT` and `[v6]:PORT`, like Go's net.Listen.
    public init(parsing text: String) throws(ConfigError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { throw ConfigError("invalid listen address \"\(text)\" (expected HOST:PORT, e.g. :\(Self.defaultPort))") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What a target is: a scheduler the exporter reaches (its secure port, and the node it runs on),
/// or an endpoint that serves only the scheduler's metrics (a managed control plane, e.g. EKS).
public enum TargetKind: String, Sendable, CaseIterable {
    case scheduler
    case metricsOnly = "metrics-only"
}

/// One kube-scheduler to watch.
public struct TargetConfig: Sendable {
    public static let kubeadmURL = "https://127.0.0.1:10259"
    public static let serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    public static let serviceAccountCA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

    public var name: String
    /// Base URL of the secure port, e.g. https://127.0.0.1:10259; paths are appended.
    public var url: String
    public var labels: [String: String] = [:]
    public var tls = TLSOptions()
    public var bearerTokenFile: String?
    public var pollInterval: Duration = .seconds(15)
    public var timeout: Duration = .seconds(10)
    public var maxBodyBytes = 16 << 20
    /// Advertise gzip/deflate/br/zstd on every request; `maxBodyBytes` then bounds the decoded body,
    /// so a compression bomb still stops at the limit. Off by default: the scheduler is local.
    public var acceptCompressed = false
    public var security = SecurityProbeConfig()
    public var latency = LatencyConfig()
    public var kind = TargetKind.scheduler
    /// Path of the scheduler's metrics below `url`: `/metrics`, or for EKS
    /// `/apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics` on the API server.
    public var metricsPath = "/metrics"

    /// Where EKS serves the scheduler's metrics through the API server.
    public static let eksSchedulerMetricsPath = "/apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics"

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }

    func validate() throws(ConfigError) {
        guard !name.isEmpty else { throw ConfigError("a target has an empty name") }
        guard let parts = URLParts(url) else {
            throw ConfigError("target \"\(name)\": invalid url \"\(url)\" (expected http(s)://HOST:PORT)")
        }
        _ = parts
        guard metricsPath.hasPrefix("/"), !metricsPath.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }) else {
            throw ConfigError("target \"\(name)\": metrics_path must be an absolute path without spaces, got \"\(metricsPath)\"")
        }
        for key in labels.keys {
            guard MetricName.isValidLabelName(key), !key.hasPrefix("__") else {
                throw ConfigError("target \"\(name)\": invalid label name \"\(key)\"")
            }
            guard !Self.reservedLabels.contains(key) else {
                throw ConfigError("target \"\(name)\": label \"\(key)\" is reserved by the exporter")
            }
        }
        guard pollInterval >= .milliseconds(100) else {
            throw ConfigError("target \"\(name)\": poll_interval must be at least 100ms")
        }
        guard timeout > .zero else { throw ConfigError("target \"\(name)\": timeout must be positive") }
        guard maxBodyBytes > 0 else { throw ConfigError("target \"\(name)\": max_body_bytes must be positive") }
        if (tls.certFile == nil) != (tls.keyFile == nil) {
            throw ConfigError("target \"\(name)\": cert_file and key_file must be given together")
        }
        for file in [tls.caFile, tls.certFile, tls.keyFile, bearerTokenFile].compactMap({ $0 }) {
            guard FileAccess.isReadable(file) else {
                throw ConfigError("target \"\(name)\": cannot read \"\(file)\"")
            }
        }
        try security.validate(target: name)
        try latency.validate(target: name)
    }

    /// A metrics-only target is reached through the API server, as the pod's own service account:
    /// its token and CA unless others are configured (and only when they exist).
    public mutating func applyInClusterDefaults() {
        if bearerTokenFile == nil, tls.certFile == nil, FileAccess.isReadable(Self.serviceAccountToken) {
            bearerTokenFile = Self.serviceAccountToken
        }
        if tls.caFile == nil, !tls.insecureSkipVerify, FileAccess.isReadable(Self.serviceAccountCA) {
            tls.caFile = Self.serviceAccountCA
        }
    }

    /// Label names a static label may not take: every label the exporter writes on a target's
    /// series, and the labels it copies from the scheduler's `kubernetes_build_info`. A static
    /// label goes first on every series, so one of these would be a duplicate label name on some
    /// series (`platform` on `kube_scheduler_build_info`, `file` on `kube_scheduler_file_mode`).
    /// Labels a scheduler adds later still cannot collide: `OutputFamily.labelled` renames those
    /// to `exported_<name>`. `TargetLabelTests` proves the list covers every label of a full poll.
    static let reservedLabels: Set<String> = ownLabels.union(buildInfoLabels)

    static let ownLabels: Set<String> = [
        "target", "endpoint", "check", "reason", "status", "severity", "cis_id", "path", "port",
        "address", "source", "kind", "quantile", "result", "queue", "version", "name", "stage",
        "extension_point", "metric", "le", "plugin", "file", "format", "credential",
    ]

    /// `kubernetes_build_info`'s labels, from Kubernetes 1.13 to 1.35.
    static let buildInfoLabels: Set<String> = [
        "major", "minor", "git_version", "git_commit", "git_tree_state", "build_date", "go_version", "compiler", "platform",
    ]
}

/// Settings of the security probes (insecure port, non-loopback bind, files on disk).
public struct SecurityProbeConfig: Sendable {
    /// The legacy plain-HTTP port; 0 turns the probe off.
    public var insecurePort = 10251
    /// Non-loopback addresses to try the secure port on; nil = the host's interface addresses.
    public var nonLoopbackAddresses: [String]?
    /// The static pod manifest, read as given; nil = the platform's (`PlatformLayout`) under `hostRoot`.
    public var manifestFile: String?
    /// nil = the path the scheduler itself reports (configz, flagz, command line, manifest), else the
    /// platform's, under `hostRoot`. A configured path is read as given.
    public var kubeconfigFile: String?
    public static let defaultManifestFile = PlatformLayout.of(.kubeadm).manifest ?? "/etc/kubernetes/manifests/kube-scheduler.yaml"
    public static let defaultKubeconfigFile = PlatformLayout.of(.kubeadm).kubeconfig ?? "/etc/kubernetes/scheduler.conf"
    public var certMinDays = 30
    /// Where the node's filesystem is visible to the exporter: its files (and `/proc`) are read below it.
    public var hostRoot = "/"
    /// Which distribution's file layout to use; `auto` detects it from the files under `hostRoot`.
    public var platform = PlatformChoice.auto
    /// How long answers that change only with the scheduler's process or configuration (configz,
    /// flagz, pprof, the anonymous and invalid-token requests, the legacy port, other addresses,
    /// TLS) are reused; a new scheduler process is asked at once. Zero asks on every poll.
    public var evidenceInterval: Duration = .seconds(300)

    public init() {}

    func validate(target: String) throws(ConfigError) {
        guard (0...65535).contains(insecurePort) else {
            throw ConfigError("target \"\(target)\": insecure port \(insecurePort) out of range")
        }
        guard certMinDays >= 0 else { throw ConfigError("target \"\(target)\": cert_min_days must be >= 0") }
        guard evidenceInterval >= .zero else { throw ConfigError("target \"\(target)\": evidence_interval must not be negative") }
        guard hostRoot.hasPrefix("/") else {
            throw ConfigError("target \"\(target)\": host_root must be an absolute path, got \"\(hostRoot)\"")
        }
    }

    /// Where the exporter reads the node's `path` (an absolute path as the node names it).
    public func local(_ path: String) -> String {
        let root = hostRoot.hasSuffix("/") ? String(hostRoot.dropLast()) : hostRoot
        guard !root.isEmpty else { return path }
        return root + (path.hasPrefix("/") ? path : "/" + path)
    }
}

/// Settings of `/probe`, the outside-in view (blackbox_exporter's multi-target pattern).
public struct OutsideInProbeConfig: Sendable {
    /// `/probe` answers 404 unless turned on (`--web.enable-probe`): it makes the exporter connect
    /// where a client asks, which no deployment should get without choosing it.
    public var enabled = false
    /// nil: the node's own addresses (loopback and the host's interface addresses, looked up at
    /// probe time), which is where a DaemonSet's outside-in probe is meant to look.
    public var allowedTargets: [CIDR]?
    /// The scheduler's secure port and its legacy plain-HTTP port.
    public var allowedPorts: Set<Int> = [10259, 10251]
    public var maxConcurrent = 8
    public var insecurePort = 10251
    /// The longest a probe may run, whatever `X-Prometheus-Scrape-Timeout-Seconds` asks for (and
    /// what it gets without the header), as blackbox_exporter's module timeout.
    public var maxTimeout: Duration = .seconds(10)
    /// No scrape waits longer; a larger --probe.max-timeout is a mistake.
    public static let maxTimeoutLimit: Duration = .seconds(600)

    public init() {}
}

/// Settings of the windowed latency quantiles.
public struct LatencyConfig: Sendable {
    public var window: Duration = .seconds(300)
    public var quantiles: [Double] = [0.5, 0.9, 0.99]

    public init() {}

    func validate(target: String) throws(ConfigError) {
        guard window > .zero else { throw ConfigError("target \"\(target)\": latency window must be positive") }
        guard !quantiles.isEmpty, quantiles.allSatisfy({ (0...1).contains($0) }) else {
            throw ConfigError("target \"\(target)\": latency quantiles must be in [0, 1]")
        }
    }
}
