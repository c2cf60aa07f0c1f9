/// What the scheduler says about its own configuration, parsed once per poll cycle and shared by
/// every check: /configz, /flagz, its build info and the static pod manifest the poll stage read
/// from the node. A missing source is nil with the reason, so checks can say `unknown` instead of
/// guessing.
public struct SchedulerEvidence: Sendable {
    public var configz: Configz?
    public var flagz: Flagz?
    public var manifest: StaticPodManifest?
    /// Why the manifest is missing (unreadable, not YAML), for the log line.
    public var manifestProblem: String?
    /// From /metrics (`kubernetes_build_info`); nil when the scheduler did not say.
    public var kubernetesVersion: KubernetesVersion?

    public init(configz: Configz? = nil, flagz: Flagz? = nil, manifest: StaticPodManifest? = nil, manifestProblem: String? = nil,
                kubernetesVersion: KubernetesVersion? = nil) {
        self.configz = configz
        self.flagz = flagz
        self.manifest = manifest
        self.manifestProblem = manifestProblem
        self.kubernetesVersion = kubernetesVersion
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
        evidence.parseManifest(target.security.manifestFile, files: poll.files)
        return evidence
    }

    /// The manifest from `files`, with the --config file it names when that was read too.
    mutating func parseManifest(_ path: String, files: [String: FileObservation]) {
        manifest = nil
        manifestProblem = nil
        guard let observation = files[path] else {
            manifestProblem = "\(path): not read"
            return
        }
        guard let text = observation.text else {
            switch observation.status {
            case .failure(let error): manifestProblem = error.description
            case .success: manifestProblem = "\(path): not readable"
            }
            return
        }
        do {
            var manifest = try StaticPodManifest(yaml: text)
            if let configPath = manifest["config"], !configPath.isEmpty, let configText = files[configPath]?.text {
                manifest.config = try? SchedulerConfigFile(yaml: configText)
            }
            self.manifest = manifest
        } catch {
            manifestProblem = "\(path): \(error)"
        }
    }

    /// A boolean flag's value from flagz, or else the manifest; with the source it came from.
    func booleanFlag(_ name: String) -> (value: Bool, source: String)? {
        if let text = flagz?[name], let value = Bool(text) { return (value, "flagz") }
        if let text = manifest?[name], let value = Bool(text) { return (value, "manifest") }
        return nil
    }
}
