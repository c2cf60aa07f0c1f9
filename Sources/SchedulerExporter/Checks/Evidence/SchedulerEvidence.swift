/// What the scheduler says about its own configuration, parsed once per poll cycle and shared by
/// every check: /configz, /flagz and the static pod manifest on disk. A missing source is nil with
/// the reason, so checks can say `unknown` instead of guessing.
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

    /// Parses what the poll fetched and reads the manifest (and its `--config` file) from disk.
    static func gather(from poll: PollResult, target: TargetConfig) -> SchedulerEvidence {
        var evidence = SchedulerEvidence()
        if let response = poll.response(.configz), response.status == 200 {
            evidence.configz = try? Configz(json: response.body)
        }
        if let text = poll.okBody(.flagz) {
            evidence.flagz = Flagz(text: text)
        }
        evidence.kubernetesVersion = poll.metrics.flatMap(KubernetesVersion.init(metrics:))
        let path = target.security.manifestFile
        if let text = FileAccess.readText(path, limit: 1 << 20) {
            do {
                var manifest = try StaticPodManifest(yaml: text)
                if let configPath = manifest["config"], !configPath.isEmpty, let configText = FileAccess.readText(configPath) {
                    manifest.config = try? SchedulerConfigFile(yaml: configText)
                }
                evidence.manifest = manifest
            } catch {
                evidence.manifestProblem = "\(path): \(error)"
            }
        } else {
            switch FileAccess.status(path) {
            case .failure(let error): evidence.manifestProblem = error.description
            case .success: evidence.manifestProblem = "\(path): not readable"
            }
        }
        return evidence
    }

    /// A boolean flag's value from flagz, or else the manifest; with the source it came from.
    func booleanFlag(_ name: String) -> (value: Bool, source: String)? {
        if let text = flagz?[name], let value = Bool(text) { return (value, "flagz") }
        if let text = manifest?[name], let value = Bool(text) { return (value, "manifest") }
        return nil
    }
}
