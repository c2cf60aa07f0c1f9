extension PollResult {
    static let nodeFileLimit = 1 << 20

    /// The poll stage's look at the node, after the HTTP answers: which platform it is (from the
    /// files under the host root, unless configured), the static pod manifest, the scheduler's
    /// process under /proc, then what those name (a --config file, k3s's config file and drop-ins)
    /// and the kubeconfig the scheduler says it uses (configz, flagz, command line, manifest), so
    /// the order matters. Returns the evidence parsed along the way, which the checks then share.
    /// `processHint` is the pid that served the target last time (see `ProcessTable`).
    mutating func observeNodeFiles(for target: TargetConfig, processHint: Int? = nil) -> SchedulerEvidence {
        let observed = Self.observePlatform(target.security)
        platform = observed
        if let manifest = SchedulerEvidence.manifestFile(target: target, platform: observed.platform).file, files[manifest.local] == nil {
            files[manifest.local] = .observe(manifest.local, readingUpTo: Self.nodeFileLimit)
        }
        observeProcesses(target, hint: processHint)
        var evidence = SchedulerEvidence.gather(from: self, target: target)
        // Each round reads what the last one named; the longest chain is k3s's: its drop-in
        // directory, the files in it, then a --config file their arguments name.
        var rounds = 0
        while !evidence.pendingReads.isEmpty, rounds < 4 {
            for read in Set(evidence.pendingReads) {
                switch read {
                case .file(let path, let contents):
                    if files[path] == nil { files[path] = .observe(path, readingUpTo: contents ? Self.nodeFileLimit : nil) }
                case .directory(let path):
                    if directories[path] == nil { directories[path] = FileAccess.directoryEntries(path, limit: 1024) }
                }
            }
            evidence = SchedulerEvidence.gather(from: self, target: target)
            rounds += 1
        }
        if let kubeconfig = FilePermissionsCheck.kubeconfigFile(target: target, evidence: evidence), files[kubeconfig.local] == nil {
            files[kubeconfig.local] = .observe(kubeconfig.local)
        }
        return evidence
    }

    /// `--platform`, else the first platform whose marker files are under the host root, else
    /// kubeadm (whose files are then reported missing).
    static func observePlatform(_ security: SecurityProbeConfig) -> PlatformObservation {
        if case .fixed(let platform) = security.platform { return PlatformObservation(platform: platform, source: .flag) }
        let found = PlatformLayout.detect { path in
            if case .success = FileAccess.status(security.local(path)) { return true }
            return false
        }
        return found.map { PlatformObservation(platform: $0, source: .detected) } ?? PlatformObservation(platform: .kubeadm, source: .default)
    }

    /// The scheduler processes under the host root's /proc, for a target on this node only: a
    /// process here says nothing about a scheduler elsewhere.
    mutating func observeProcesses(_ target: TargetConfig, hint: Int?) {
        processes = nil
        guard let parts = URLParts(target.url) else { processProblem = "the target URL does not parse"; return }
        let host = parts.host
        guard InterfaceAddresses.isLoopback(host) || InterfaceAddresses.nonLoopback().contains(host) else {
            processProblem = "the target \(host) is not an address of this node, so its processes are not here"
            return
        }
        switch ProcessTable.schedulers(procRoot: target.security.local("/proc"), hint: hint) {
        case .success(let found):
            processes = found
            processProblem = nil
        case .failure(let error):
            processProblem = "cannot list the processes: \(error)"
        }
    }
}
