import Exposition

/// Contention profiling (block profiles) only takes effect when profiling is on; upstream enables
/// it by default. It fails only when it is really active: enabled together with profiling.
public struct ContentionProfilingCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "contention_profiling_disabled", cisID: "", severity: .low,
        remediation: "set --contention-profiling=false (and --profiling=false)")

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] { [.pprof] }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        let evidence = context.evidence
        var sources: [(source: String, enabled: Bool)] = []
        if let value = evidence.configz?.enableContentionProfiling { sources.append(("configz", value)) }
        if let text = evidence.flagz?["contention-profiling"], let value = Bool(text) { sources.append(("flagz", value)) }
        sources += evidence.configurableFlag("contention-profiling", \.enableContentionProfiling)
        let profiling = ProfilingCheck.sources(poll, evidence)
        let profilingOn = profiling.contains { $0.enabled }
        let profilingOff = !profiling.isEmpty && !profilingOn

        let finding: SecurityFinding
        if let on = sources.first(where: { $0.enabled }) {
            if profilingOn {
                finding = SecurityFinding(Self.entry, .fail, "contention profiling enabled per \(on.source) and profiling is on")
            } else if profilingOff {
                finding = SecurityFinding(Self.entry, .pass, "contention profiling set but inert: profiling is off")
            } else {
                finding = SecurityFinding(Self.entry, .unknown, "contention profiling set; whether profiling is on is unknown")
            }
        } else if let off = sources.first {
            finding = SecurityFinding(Self.entry, .pass, "contention profiling disabled per \(off.source)")
        } else if profilingOff {
            finding = SecurityFinding(Self.entry, .pass, "profiling is off, so contention profiling cannot run")
        } else {
            finding = SecurityFinding(Self.entry, .unknown, "no configz, flagz, command line or manifest evidence")
        }
        return CheckOutput(families: [
            .gauge("kube_scheduler_contention_profiling_enabled",
                   "1 when contention profiling is configured on per the evidence source (configz, flagz, cmdline, k3s_config, manifest); absent when unknown. 1 together with profiling enabled is bad.",
                   sources.map { OutputSample(labels: [("source", $0.source)], value: $0.enabled.gaugeValue) }),
        ], findings: [finding])
    }
}
