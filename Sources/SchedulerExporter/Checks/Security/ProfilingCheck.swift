import Exposition

/// CIS 1.4.1: `--profiling=false`. The wire is the strongest evidence: /debug/pprof/ with the
/// exporter's credentials answers 200 when profiling is on and 404 when it is off (403 says only
/// that RBAC forbids the path, so it proves nothing). configz, flagz, the process's command line
/// and the manifest corroborate.
public struct ProfilingCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "profiling_disabled", cisID: "1.4.1", severity: .medium,
        remediation: "set --profiling=false in /etc/kubernetes/manifests/kube-scheduler.yaml")

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] { [.pprof] }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let sources = Self.sources(poll, context.evidence)
        let finding: SecurityFinding
        if let on = sources.first(where: { $0.enabled }) {
            finding = SecurityFinding(Self.entry, .fail, "profiling enabled per \(on.source)")
        } else if let off = sources.first {
            finding = SecurityFinding(Self.entry, .pass, "profiling disabled per \(off.source)")
        } else {
            finding = SecurityFinding(Self.entry, .unknown, "no evidence: /debug/pprof/ gave \(poll.status(.pprof).map(String.init) ?? "no answer"), no configz, flagz, command line or manifest")
        }
        let samples = sources.map { OutputSample(labels: [("source", $0.source)], value: $0.enabled.gaugeValue) }
        return CheckOutput(families: [
            .gauge("kube_scheduler_profiling_enabled",
                   "1 when profiling (/debug/pprof) is enabled per the evidence source (pprof, configz, flagz, cmdline, k3s_config, manifest); absent when unknown. 1 is bad (CIS 1.4.1): set --profiling=false.",
                   samples),
        ], findings: [finding])
    }

    static func sources(_ poll: PollResult, _ evidence: SchedulerEvidence) -> [(source: String, enabled: Bool)] {
        var sources: [(source: String, enabled: Bool)] = []
        switch poll.status(.pprof) {
        case 200?: sources.append(("pprof", true))
        case 404?: sources.append(("pprof", false))
        default: break
        }
        if let value = evidence.configz?.enableProfiling { sources.append(("configz", value)) }
        if let text = evidence.flagz?["profiling"], let value = Bool(text) { sources.append(("flagz", value)) }
        // The running process's command line, then the manifest (a --config file overrides the flag).
        sources += evidence.configurableFlag("profiling", \.enableProfiling)
        return sources
    }
}
