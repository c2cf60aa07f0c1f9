extension PollResult {
    static let nodeFileLimit = 1 << 20

    /// The poll stage's disk reads, after the HTTP answers: the static pod manifest, the --config
    /// file it names and the kubeconfig the scheduler says it uses (configz, flagz, manifest), so
    /// the order matters. Returns the evidence parsed along the way, which the checks then share.
    mutating func observeNodeFiles(for target: TargetConfig) -> SchedulerEvidence {
        let manifestPath = target.security.manifestFile
        files[manifestPath] = .observe(manifestPath, readingUpTo: Self.nodeFileLimit)
        var evidence = SchedulerEvidence.gather(from: self, target: target)
        if let configPath = evidence.manifest?["config"], !configPath.isEmpty, files[configPath] == nil {
            files[configPath] = .observe(configPath, readingUpTo: Self.nodeFileLimit)
            evidence.parseManifest(manifestPath, files: files)
        }
        let kubeconfig = FilePermissionsCheck.kubeconfigPath(target: target, evidence: evidence)
        if files[kubeconfig] == nil { files[kubeconfig] = .observe(kubeconfig) }
        return evidence
    }
}
