import ArgumentParser
import CMalloc
import Logging
import SchedulerExporter
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Flags follow the Prometheus exporter conventions (`--web.listen-address`, `--log.level`, ...).
struct ExporterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-scheduler-exporter",
        abstract: "Prometheus exporter for the security and health of a Kubernetes kube-scheduler.",
        discussion: """
            Polls the scheduler's /metrics, /healthz, /livez and /readyz (and its other endpoints for the \
            security checks) over HTTPS with libcurl, and serves derived gauges on /metrics.

            Without --target or --config.file it polls the kubeadm default \(TargetConfig.kubeadmURL) with the \
            in-cluster service-account token and CA when they exist. Flags override the config file for a \
            single target. A bad flag or config file is a one-line error and exit code 2.

            Config file format (YAML; durations like 15s, 1m30s):

            \(ConfigFile.example)

            --web.config.file protects the exporter's own endpoint in the Prometheus exporter-toolkit format \
            (re-read when it or a file it names changes; a bad edit is logged and the running config kept). \
            With basic_auth_users every path, /healthz included, needs credentials, as with exporter-toolkit. \
            Relative paths are relative to the web config file:

            \(WebConfig.example)
            """,
        version: ExporterBuild.version)

    @Option(name: .customLong("config.file"), help: ArgumentHelp("YAML file with one or more targets.", valueName: "path"))
    var configFile: String?
    @Option(name: .customLong("web.listen-address"), help: ArgumentHelp("Address to serve /metrics on.", valueName: "host:port"))
    var listenAddress = ":\(ListenAddress.defaultPort)"
    @Option(name: .customLong("web.config.file"), help: ArgumentHelp("exporter-toolkit web config: TLS, basic auth (on every path, /healthz too) and headers.", valueName: "path"))
    var webConfigFile: String?
    @Flag(name: .customLong("web.kubernetes-auth"), help: "Authenticate scrapers by their Kubernetes bearer token (TokenReview) and authorize them by RBAC (SubjectAccessReview, get on the path as a non-resource URL); /healthz stays open.")
    var kubernetesAuth = false
    @Option(name: .customLong("web.kubernetes-auth.kubeconfig"), help: ArgumentHelp("Kubeconfig for the reviews (default: the in-cluster service account).", valueName: "path"))
    var kubernetesAuthKubeconfig: String?
    @Option(name: .customLong("web.max-requests"), help: ArgumentHelp("Requests answered at once at most; more get 503. 0 disables the limit.", valueName: "n"))
    var maxRequests = ServerLimits().maxRequests
    @Option(name: .customLong("web.max-connections"), help: ArgumentHelp("Connections held open at most; a new one closes the longest idle one, or is closed when all are busy.", valueName: "n"))
    var maxConnections = ServerLimits().maxConnections
    @Option(name: .customLong("target"), help: ArgumentHelp("Base URL of the scheduler's secure port (default \(TargetConfig.kubeadmURL)).", valueName: "url"))
    var target: String?
    @Option(name: .customLong("target.name"), help: ArgumentHelp("Value of the target label for --target.", valueName: "name"))
    var targetName: String?
    @Option(name: .customLong("target.kind"), help: ArgumentHelp("scheduler (default), or metrics-only for a managed control plane that serves only the scheduler's metrics (EKS): only --target.metrics-path is polled, with the in-cluster token and CA unless others are given, and every check that needs more is unknown.", valueName: "kind"))
    var targetKind: String?
    @Option(name: .customLong("target.metrics-path"), help: ArgumentHelp("Path of the scheduler's metrics below --target (default /metrics; EKS: \(TargetConfig.eksSchedulerMetricsPath)).", valueName: "path"))
    var targetMetricsPath: String?
    @Option(name: .customLong("bearer-token-file"), help: ArgumentHelp("File holding the bearer token; re-read when it changes.", valueName: "path"))
    var bearerTokenFile: String?
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("CA bundle to verify the scheduler's serving certificate.", valueName: "path"))
    var caFile: String?
    @Option(name: .customLong("cert-file"), help: ArgumentHelp("Client certificate (PEM) for the scheduler.", valueName: "path"))
    var certFile: String?
    @Option(name: .customLong("key-file"), help: ArgumentHelp("Client key (PEM) for --cert-file.", valueName: "path"))
    var keyFile: String?
    @Flag(name: .customLong("insecure-skip-verify"), help: "Do not verify the scheduler's serving certificate (kubeadm's scheduler serves a self-signed one).")
    var insecureSkipVerify = false
    @Option(name: .customLong("server-name"), help: ArgumentHelp("Name to verify the serving certificate against instead of the URL's host.", valueName: "name"))
    var serverName: String?
    @Option(name: .customLong("poll-interval"), help: ArgumentHelp("How often to poll each target (default 15s).", valueName: "duration"))
    var pollInterval: String?
    @Option(name: .customLong("timeout"), help: ArgumentHelp("Timeout of each request to the scheduler (default 10s).", valueName: "duration"))
    var timeout: String?
    @Option(name: .customLong("check.evidence-interval"), help: ArgumentHelp("How long answers that change only with the scheduler's process or flags (configz, flagz, pprof, anonymous and invalid-token requests, legacy port, other addresses, TLS) are reused; a new scheduler process is asked at once; 0 asks every poll (default 5m).", valueName: "duration"))
    var evidenceInterval: String?
    @Option(name: .customLong("check.insecure-port"), help: ArgumentHelp("Legacy plain-HTTP port the insecure_port_closed check connects to, on the targets and for /probe (default 10251; 0 disables).", valueName: "port"))
    var insecurePort: Int?
    @Option(name: .customLong("check.nonloopback-address"), help: ArgumentHelp("Non-loopback address on which the bind_address_loopback check tries the secure port (repeatable; default: the host's interface addresses).", valueName: "addr"))
    var nonLoopbackAddresses: [String] = []
    // The names before "probe" came to mean only the /probe endpoint; still accepted, with a warning.
    @Option(name: .customLong("probe.insecure-port"), help: ArgumentHelp("Deprecated name of --check.insecure-port.", valueName: "port", visibility: .hidden))
    var deprecatedInsecurePort: Int?
    @Option(name: .customLong("probe.nonloopback-address"), help: ArgumentHelp("Deprecated name of --check.nonloopback-address.", valueName: "addr", visibility: .hidden))
    var deprecatedNonLoopbackAddresses: [String] = []
    @Option(name: .customLong("check.manifest-file"), help: ArgumentHelp("The scheduler's static pod manifest (default: the platform's, e.g. /etc/kubernetes/manifests/kube-scheduler.yaml).", valueName: "path"))
    var manifestFile: String?
    @Option(name: .customLong("check.kubeconfig-file"), help: ArgumentHelp("The scheduler's kubeconfig (default: the one the scheduler reports, else the platform's, e.g. /etc/kubernetes/scheduler.conf).", valueName: "path"))
    var kubeconfigFile: String?
    @Option(name: .customLong("check.host-root"), help: ArgumentHelp("Where the node's filesystem is mounted: the platform's files and /proc are read below it (default /). --check.manifest-file and --check.kubeconfig-file are read as given.", valueName: "path"))
    var hostRoot: String?
    @Option(name: .customLong("platform"), help: ArgumentHelp("Whose file layout to use for the scheduler's manifest, kubeconfig and flags: \(PlatformChoice.allNames.joined(separator: ", ")) (default auto: detected from the files under --check.host-root).", valueName: "name"))
    var platform: String?
    @Option(name: .customLong("check.cert-min-days"), help: ArgumentHelp("Fail the certificate check below this many days of validity (default 30).", valueName: "days"))
    var certMinDays: Int?
    @Option(name: .customLong("latency.window"), help: ArgumentHelp("Window of the latency quantiles and rates (default 5m).", valueName: "duration"))
    var latencyWindow: String?
    @Option(name: .customLong("latency.quantiles"), help: ArgumentHelp("Comma-separated quantiles (default 0.5,0.9,0.99).", valueName: "list"))
    var latencyQuantiles: String?
    @Option(name: .customLong("passthrough.families"), help: ArgumentHelp("Regex of the scheduler's own families re-served on /scheduler/metrics; empty disables it.", valueName: "regex"))
    var passthroughFamilies = ExporterConfig.defaultPassthroughFamilies
    @Flag(name: .customLong("passthrough.resources"), help: "Also poll the scheduler's /metrics/resources (kube_pod_resource_request, kube_pod_resource_limit) and re-serve it on /scheduler/metrics/resources.")
    var passthroughResources = false
    @Flag(name: .customLong("web.enable-probe"), help: "Serve /probe, the outside-in probe (off: 404).")
    var enableProbe = false
    @Option(name: .customLong("probe.allowed-targets"), help: ArgumentHelp("Comma-separated CIDRs /probe may connect to (default: the node's own addresses, loopback included).", valueName: "cidrs"))
    var probeAllowedTargets: String?
    @Option(name: .customLong("probe.allowed-ports"), help: ArgumentHelp("Comma-separated ports /probe may connect to (default 10259,10251).", valueName: "ports"))
    var probeAllowedPorts: String?
    @Option(name: .customLong("probe.max-concurrent"), help: ArgumentHelp("Concurrent /probe requests at most (default 8).", valueName: "n"))
    var probeMaxConcurrent = 8
    @Option(name: .customLong("probe.max-timeout"), help: ArgumentHelp("Longest a /probe may run, whatever X-Prometheus-Scrape-Timeout-Seconds asks for (default 10s).", valueName: "duration"))
    var probeMaxTimeout: String?
    @Option(name: .customLong("log.level"), help: ArgumentHelp("debug, info, warn or error.", valueName: "level"))
    var logLevel = "info"
    @Option(name: .customLong("log.format"), help: ArgumentHelp("logfmt or json.", valueName: "format"))
    var logFormat = "logfmt"

    /// Each deprecated name given, with the name that replaces it, for the one start-up warning.
    var deprecatedFlagsUsed: [(old: String, new: String)] {
        var used: [(old: String, new: String)] = []
        if deprecatedInsecurePort != nil { used.append(("--probe.insecure-port", "--check.insecure-port")) }
        if !deprecatedNonLoopbackAddresses.isEmpty { used.append(("--probe.nonloopback-address", "--check.nonloopback-address")) }
        return used
    }

    func exporterConfig() throws(ConfigError) -> ExporterConfig {
        if insecurePort != nil, deprecatedInsecurePort != nil {
            throw ConfigError("--probe.insecure-port is the deprecated name of --check.insecure-port; give only one")
        }
        let insecurePort = self.insecurePort ?? deprecatedInsecurePort
        let nonLoopbackAddresses = self.nonLoopbackAddresses + deprecatedNonLoopbackAddresses
        let kind = try targetKind.map { (text) throws(ConfigError) -> TargetKind in
            guard let kind = TargetKind(rawValue: text) else {
                throw ConfigError("--target.kind: expected \(TargetKind.allCases.map(\.rawValue).joined(separator: " or ")), got \"\(text)\"")
            }
            return kind
        }
        let platformChoice = try platform.map { (text) throws(ConfigError) -> PlatformChoice in
            guard let choice = PlatformChoice(text) else {
                throw ConfigError("--platform: expected one of \(PlatformChoice.allNames.joined(separator: ", ")), got \"\(text)\"")
            }
            return choice
        }
        var targets: [TargetConfig]
        if let configFile {
            targets = try ConfigFile.load(path: configFile)
        } else {
            var single = TargetConfig(name: targetName ?? "default", url: target ?? TargetConfig.kubeadmURL)
            if target == nil {
                if FileAccess.isReadable(TargetConfig.serviceAccountToken) { single.bearerTokenFile = TargetConfig.serviceAccountToken }
                if FileAccess.isReadable(TargetConfig.serviceAccountCA) { single.tls.caFile = TargetConfig.serviceAccountCA }
            }
            targets = [single]
        }
        let singleTarget = targets.count == 1
        if !singleTarget, target != nil || bearerTokenFile != nil || caFile != nil || certFile != nil || targetKind != nil || targetMetricsPath != nil {
            throw ConfigError("--target, --target.kind, --target.metrics-path and credential flags apply to a single target; the config file has \(targets.count)")
        }
        for index in targets.indices {
            var entry = targets[index]
            if let target { entry.url = target }
            if let targetName { entry.name = targetName }
            if let bearerTokenFile { entry.bearerTokenFile = bearerTokenFile }
            if let caFile { entry.tls.caFile = caFile }
            if let certFile { entry.tls.certFile = certFile }
            if let keyFile { entry.tls.keyFile = keyFile }
            if insecureSkipVerify { entry.tls.insecureSkipVerify = true }
            if let serverName { entry.tls.serverName = serverName }
            if let kind { entry.kind = kind }
            if let targetMetricsPath { entry.metricsPath = targetMetricsPath }
            // Through the API server as the pod's service account, unless told otherwise.
            if entry.kind == .metricsOnly { entry.applyInClusterDefaults() }
            if let pollInterval { entry.pollInterval = try Self.duration(pollInterval, flag: "--poll-interval") }
            if let timeout { entry.timeout = try Self.duration(timeout, flag: "--timeout") }
            if let evidenceInterval { entry.security.evidenceInterval = try Self.duration(evidenceInterval, flag: "--check.evidence-interval") }
            if let insecurePort { entry.security.insecurePort = insecurePort }
            if !nonLoopbackAddresses.isEmpty { entry.security.nonLoopbackAddresses = nonLoopbackAddresses }
            if let manifestFile { entry.security.manifestFile = manifestFile }
            if let kubeconfigFile { entry.security.kubeconfigFile = kubeconfigFile }
            if let certMinDays { entry.security.certMinDays = certMinDays }
            if let hostRoot { entry.security.hostRoot = hostRoot }
            if let platformChoice { entry.security.platform = platformChoice }
            if let latencyWindow { entry.latency.window = try Self.duration(latencyWindow, flag: "--latency.window") }
            if let latencyQuantiles {
                let values = latencyQuantiles.split(separator: ",").map { Double($0.trimmingPrefix(" ")) }
                guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
                    throw ConfigError("--latency.quantiles: expected a comma-separated list of numbers, got \"\(latencyQuantiles)\"")
                }
                entry.latency.quantiles = values.compactMap { $0 }
            }
            targets[index] = entry
        }
        var config = ExporterConfig(listenAddress: try ListenAddress(parsing: listenAddress), targets: targets)
        config.passthroughFamilies = passthroughFamilies
        config.server.maxRequests = maxRequests
        config.server.maxConnections = maxConnections
        config.passthroughResources = passthroughResources
        config.probe.maxConcurrent = probeMaxConcurrent
        if let probeMaxTimeout { config.probe.maxTimeout = try Self.duration(probeMaxTimeout, flag: "--probe.max-timeout") }
        if let insecurePort { config.probe.insecurePort = insecurePort }
        config.probe.enabled = enableProbe
        if let probeAllowedPorts {
            let ports = probeAllowedPorts.split(separator: ",").map { Int($0.trimmingPrefix(" ")) }
            guard !ports.isEmpty, ports.allSatisfy({ $0.map { (1...65535).contains($0) } ?? false }) else {
                throw ConfigError("--probe.allowed-ports: expected comma-separated ports between 1 and 65535, got \"\(probeAllowedPorts)\"")
            }
            config.probe.allowedPorts = Set(ports.compactMap { $0 })
        }
        if let probeAllowedTargets {
            config.probe.allowedTargets = try probeAllowedTargets.split(separator: ",").map { (text) throws(ConfigError) in
                try CIDR(parsing: String(text).trimmingPrefix(" ").description)
            }
        }
        return try config.validated()
    }

    /// Where the scrapers' token reviews go: the kubeconfig given, else the in-cluster account.
    func kubernetesAuthAccess() throws(ConfigError) -> APIServerAccess? {
        guard kubernetesAuth else {
            if kubernetesAuthKubeconfig != nil { throw ConfigError("--web.kubernetes-auth.kubeconfig needs --web.kubernetes-auth") }
            return nil
        }
        if let kubernetesAuthKubeconfig { return try APIServerAccess.kubeconfig(path: kubernetesAuthKubeconfig) }
        var environment: [String: String] = [:]
        for name in ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return try APIServerAccess.inCluster(environment: environment)
    }

    func logLevelValue() throws(ConfigError) -> Logger.Level {
        switch logLevel.lowercased() {
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "error": return .error
        default: throw ConfigError("--log.level: expected debug, info, warn or error, got \"\(logLevel)\"")
        }
    }

    static func duration(_ text: String, flag: String) throws(ConfigError) -> Duration {
        do { return try PrometheusDuration.parse(text) } catch { throw ConfigError("\(flag): \(error.message)") }
    }
}

@main
enum Main {
    static func main() async {
        tuneMalloc()
        let command: ExporterCommand
        do {
            command = try ExporterCommand.parse()
        } catch {
            if ExporterCommand.exitCode(for: error) == .success { ExporterCommand.exit(withError: error) }
            fail(ExporterCommand.message(for: error))
        }
        let config: ExporterConfig
        let web: WebSecurity?
        let kubernetesAuth: APIServerAccess?
        let level: Logger.Level
        let format: StructuredLogHandler.Format
        do {
            config = try command.exporterConfig()
            web = try command.webConfigFile.map { (path) throws(ConfigError) in
                try WebSecurity(path: path, maxPendingChecks: config.server.maxPendingPasswordChecks)
            }
            kubernetesAuth = try command.kubernetesAuthAccess()
            if kubernetesAuth != nil, let web, !web.config.basicAuthUsers.isEmpty {
                throw ConfigError("--web.kubernetes-auth and basic_auth_users in --web.config.file exclude each other; keep one")
            }
            level = try command.logLevelValue()
            guard let parsed = StructuredLogHandler.Format(rawValue: command.logFormat) else {
                throw ConfigError("--log.format: expected logfmt or json, got \"\(command.logFormat)\"")
            }
            format = parsed
        } catch let error as ConfigError {
            fail(error.message)
        } catch {
            fail("\(error)")
        }
        LoggingSystem.bootstrap { StructuredLogHandler(label: $0, format: format, level: level) }
        let logger = Logger(label: "kube-scheduler-exporter")
        let deprecated = command.deprecatedFlagsUsed
        if !deprecated.isEmpty {
            logger.warning("deprecated flag names are still accepted but will be removed",
                           metadata: ["use": "\(deprecated.map { "\($0.new) instead of \($0.old)" }.joined(separator: ", "))"])
        }
        let exporter = Exporter(config: config, web: web, kubernetesAuth: kubernetesAuth, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [exporter], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("exporter stopped", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// glibc gives every allocating thread its own arena and keeps freed memory in each one, and
    /// its mmap threshold climbs after each large free until 300 KB scrape bodies come from the
    /// heap and fragment it. Two arenas and a fixed 128 KiB threshold (large buffers go straight
    /// back to the kernel) cut steady RSS at 100 targets; the MALLOC_* variables still win.
    static func tuneMalloc() {
        #if canImport(Glibc)
        if getenv("MALLOC_ARENA_MAX") == nil { _ = mallopt(CMALLOC_ARENA_MAX, 2) }
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { _ = mallopt(CMALLOC_MMAP_THRESHOLD, 128 << 10) }
        #endif
    }

    static func fail(_ message: String) -> Never {
        let line = "kube-scheduler-exporter: \(message.split(separator: "\n").first ?? "")\n"
        var bytes = Array(line.utf8)
        _ = write(2, &bytes, bytes.count)
        exit(2)
    }
}
