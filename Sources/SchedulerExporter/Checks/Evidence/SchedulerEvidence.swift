/// A file of the node: the path as the node (and the scheduler's configuration) names it, and
/// where the exporter reads it (below `SecurityProbeConfig.hostRoot`; a configured path as given).
public struct NodeFile: Sendable, Hashable {
    public var path: String
    public var local: String

    public init(path: String, local: String) {
        self.path = path
        self.local = local
    }
}

/// What the scheduler says about its own configuration, parsed once per poll cycle and shared by
/// every check: /configz, /flagz, its build info, and what the poll stage found on the node (the
/// platform, the static pod manifest, the running process's command line). A missing source is
/// nil with the reason, so checks can say `unknown` instead of guessing.
public struct SchedulerEvidence: Sendable {
    public var configz: Configz?
    public var flagz: Flagz?
    public var manifest: StaticPodManifest?
    /// Why the manifest is missing (unreadable, not YAML), for the log line.
    public var manifestProblem: String?
    /// From /metrics (`kubernetes_build_info`); nil when the scheduler did not say.
    public var kubernetesVersion: KubernetesVersion?
    /// The platform whose layout locates the scheduler's files.
    public var platform = PlatformObservation(platform: .kubeadm, source: .default)
    /// The manifest this poll looked for; nil when there is none to look for (`noManifestReason`).
    public var manifestFile: NodeFile?
    public var noManifestReason: String?
    /// The running scheduler's flags (its command line, or k3s's config file); nil with the reason.
    public var commandLine: CommandLineEvidence?
    public var commandLineProblem: String?
    /// What this evidence names that the poll stage has not read yet (a --config file, k3s's config).
    var pendingReads: [NodeRead] = []

    public init(configz: Configz? = nil, flagz: Flagz? = nil, manifest: StaticPodManifest? = nil, manifestProblem: String? = nil,
                kubernetesVersion: KubernetesVersion? = nil, commandLine: CommandLineEvidence? = nil) {
        self.configz = configz
        self.flagz = flagz
        self.manifest = manifest
        self.manifestProblem = manifestProblem
        self.kubernetesVersion = kubernetesVersion
        self.commandLine = commandLine
    }

    static let requests: [ProbeRequest] = [.configz, .flagz]

    /// Parses what the poll fetched and what it read from the node; no I/O of its own.
    static func gather(from poll: PollResult, target: TargetConfig) -> SchedulerEvidence {
        var evidence = SchedulerEvidence()
        if let response = poll.response(.configz), response.status == 200 {
            evidence.configz = try? Configz(json: response.body)
        }
        if let text = poll.okBody(.flagz) {
            evidence.flagz = Flagz(text: text)
        }
        evidence.kubernetesVersion = poll.metrics.flatMap(KubernetesVersion.init(metrics:))
        // A metrics-only target's node was never looked at: nothing of it to judge.
        guard let platform = poll.platform else { return evidence }
        evidence.platform = platform
        let (file, absence) = Self.manifestFile(target: target, platform: platform.platform)
        evidence.manifestFile = file
        evidence.noManifestReason = absence
        if let file { evidence.parseManifest(file, files: poll.files, security: target.security) }
        evidence.gatherCommandLine(poll, target: target)
        return evidence
    }

    /// The configured manifest (read as given), else the platform's under the host root; nil with
    /// the reason where the platform has none.
    static func manifestFile(target: TargetConfig, platform: Platform) -> (file: NodeFile?, absence: String?) {
        if let configured = target.security.manifestFile { return (NodeFile(path: configured, local: configured), nil) }
        let layout = PlatformLayout.of(platform)
        guard let path = layout.manifest else { return (nil, layout.noManifestReason) }
        return (NodeFile(path: path, local: target.security.local(path)), nil)
    }

    /// Where a path the scheduler names (in its flags or configuration) lies on the node: through
    /// the static pod's hostPath mounts, then below the host root.
    func nodeFile(forSchedulerPath path: String, security: SecurityProbeConfig) -> NodeFile {
        let nodePath = manifest?.nodePath(for: path) ?? path
        return NodeFile(path: nodePath, local: security.local(nodePath))
    }

    /// The manifest from `files`, with the --config file it names when that was read too.
    mutating func parseManifest(_ file: NodeFile, files: [String: FileObservation], security: SecurityProbeConfig) {
        manifest = nil
        manifestProblem = nil
        guard let observation = files[file.local] else {
            manifestProblem = "\(file.local): not read"
            pendingReads.append(.file(file.local, contents: true))
            return
        }
        guard let text = observation.text else {
            switch observation.status {
            case .failure(let error): manifestProblem = error.description
            case .success: manifestProblem = "\(file.local): not readable"
            }
            return
        }
        do {
            var parsed = try StaticPodManifest(yaml: text)
            manifest = parsed
            if let configPath = parsed["config"], !configPath.isEmpty {
                let config = nodeFile(forSchedulerPath: configPath, security: security)
                if let observation = files[config.local] {
                    parsed.config = observation.text.flatMap { try? SchedulerConfigFile(yaml: $0) }
                    manifest = parsed
                } else {
                    pendingReads.append(.file(config.local, contents: true))
                }
            }
        } catch {
            manifestProblem = "\(file.local): \(error)"
        }
    }

    /// The running scheduler's flags: the process serving the target's port, or when k3s has hidden
    /// its argv, the `kube-scheduler-arg` values of k3s's config file.
    mutating func gatherCommandLine(_ poll: PollResult, target: TargetConfig) {
        commandLine = nil
        guard let processes = poll.processes else {
            commandLineProblem = poll.processProblem ?? "the node's processes were not looked at"
            return
        }
        guard let parts = URLParts(target.url) else { commandLineProblem = "the target URL has no port"; return }
        let chosen: (pid: Int, commandLine: SchedulerCommandLine)
        switch SchedulerCommandLine.select(processes, host: parts.host, port: parts.port) {
        case .failure(let problem):
            commandLineProblem = problem.description
            return
        case .success(let selected):
            chosen = selected
        }
        let security = target.security
        var evidence: CommandLineEvidence
        if chosen.commandLine.argumentsVisible {
            evidence = CommandLineEvidence(source: .cmdline, pid: chosen.pid, kind: chosen.commandLine.kind, flags: chosen.commandLine.flags)
        } else {
            guard let flags = k3sConfigArguments(poll, security: security) else {
                commandLineProblem = pendingReads.isEmpty
                    ? "k3s server (pid \(chosen.pid)) hides its arguments from /proc, and \(Self.k3sConfigFile) sets no kube-scheduler-arg"
                    : "k3s's config file was not read yet"
                return
            }
            evidence = CommandLineEvidence(source: .k3sConfig, pid: chosen.pid, kind: .k3sServer, flags: flags, complete: false)
        }
        if let configPath = evidence["config"], !configPath.isEmpty {
            let config = nodeFile(forSchedulerPath: configPath, security: security)
            if let observation = poll.files[config.local] {
                evidence.config = observation.text.flatMap { try? SchedulerConfigFile(yaml: $0) }
            } else {
                pendingReads.append(.file(config.local, contents: true))
            }
        }
        commandLine = evidence
        commandLineProblem = nil
    }

    static let k3sConfigFile = "/etc/rancher/k3s/config.yaml"
    static let k3sConfigDropIns = "/etc/rancher/k3s/config.yaml.d"

    /// k3s's config file and its drop-ins in name order, as read; nil when none holds the key.
    mutating func k3sConfigArguments(_ poll: PollResult, security: SecurityProbeConfig) -> [String: String]? {
        let file = security.local(Self.k3sConfigFile)
        let directory = security.local(Self.k3sConfigDropIns)
        var documents: [String] = []
        if let observation = poll.files[file] {
            if let text = observation.text { documents.append(text) }
        } else {
            pendingReads.append(.file(file, contents: true))
        }
        switch poll.directories[directory] {
        case nil:
            pendingReads.append(.directory(directory))
        case .failure?:
            break
        case .success(let names)?:
            for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                let path = directory + "/" + name
                if let observation = poll.files[path] {
                    if let text = observation.text { documents.append(text) }
                } else {
                    pendingReads.append(.file(path, contents: true))
                }
            }
        }
        return K3sConfig.kubeSchedulerArguments(documents)
    }

    /// A flag of the running scheduler: from its command line, else from the manifest; with the
    /// evidence source it came from.
    func flag(_ name: String) -> (value: String, source: String)? {
        if let commandLine, let value = commandLine[name] { return (value, commandLine.source.rawValue) }
        if let value = manifest?[name] { return (value, "manifest") }
        return nil
    }

    /// A setting that a `--config` file overrides (`--profiling`, `--contention-profiling`: "ignored
    /// if a config file is specified in --config", as upstream documents and the
    /// config-profiling-overrides-flag capture shows), per source: the command line, then the
    /// manifest. With --config only the file counts; nil when it was not readable or sets nothing.
    func configurableFlag(_ name: String, _ key: KeyPath<SchedulerConfigFile, Bool?>) -> [(source: String, enabled: Bool)] {
        var sources: [(source: String, enabled: Bool)] = []
        if let commandLine, let value = Self.setting(flags: commandLine.flags, config: commandLine.config, name, key) {
            sources.append((commandLine.source.rawValue, value))
        }
        if let manifest, let value = Self.setting(flags: manifest.flags, config: manifest.config, name, key) {
            sources.append(("manifest", value))
        }
        return sources
    }

    static func setting(flags: [String: String], config: SchedulerConfigFile?, _ name: String,
                        _ key: KeyPath<SchedulerConfigFile, Bool?>) -> Bool? {
        if let path = flags["config"], !path.isEmpty { return config?[keyPath: key] }
        return flags[name].flatMap(Bool.init)
    }
}

/// A read the poll stage still has to make for the evidence to be complete.
enum NodeRead: Sendable, Hashable {
    case file(String, contents: Bool)
    case directory(String)
}
