import Exposition

/// Alpha feature gates are off by default for a reason: untested code paths on a component that
/// can place any pod on any node. Read from the scheduler's own `kubernetes_feature_enabled`.
public struct AlphaFeatureGatesCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "no_alpha_feature_gates", cisID: "", severity: .low,
        remediation: "remove ALPHA gates from --feature-gates (see kube_scheduler_feature_enabled{stage=\"ALPHA\"} == 1)")

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    /// `kubernetes_feature_enabled` is in /metrics, which a managed control plane serves too.
    public var readsOnlyMetrics: Bool { true }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        guard let family = poll.metrics?.family(named: "kubernetes_feature_enabled") else {
            return CheckOutput(findings: [SecurityFinding(Self.entry, .unknown, poll.up ? "the scheduler exports no kubernetes_feature_enabled" : "no /metrics")])
        }
        var samples: [OutputSample] = []
        samples.reserveCapacity(family.samples.count)
        var enabledAlpha = Set<String>()
        var seen = Set<String>()
        var dropped = DroppedTargetData()
        for sample in family.samples {
            guard let name = sample.label("name") else { continue }
            let stage = sample.label("stage") ?? ""
            // A gate once (a repeat would be a duplicate series) and a bounded number of them;
            // the verdict still counts every enabled ALPHA gate the scheduler reports.
            if stage == "ALPHA", sample.value == 1 { enabledAlpha.insert(name) }
            guard seen.count < TargetDataLimits.maxFeatureGates, seen.insert(name).inserted else {
                dropped.add(.featureGates)
                continue
            }
            samples.append(OutputSample(labels: [("name", name), ("stage", stage)], value: sample.value))
        }
        let finding = enabledAlpha.isEmpty
            ? SecurityFinding(Self.entry, .pass, "no ALPHA gate enabled")
            : SecurityFinding(Self.entry, .fail, "ALPHA gates enabled: \(Self.list(enabledAlpha))")
        return CheckOutput(families: [
            .gauge("kube_scheduler_feature_enabled", "The scheduler's feature gates (kubernetes_feature_enabled): 1 when enabled, with its stage.", samples),
            .gauge("kube_scheduler_alpha_features_enabled", "Number of ALPHA feature gates enabled on the scheduler; above 0 is bad.", value: Double(enabledAlpha.count)),
        ], findings: [finding], dropped: dropped)
    }

    /// The names, sorted, the first ten of them and how many more.
    static func list(_ names: Set<String>) -> String {
        let sorted = names.sorted()
        let shown = sorted.prefix(10).joined(separator: ",")
        return sorted.count > 10 ? "\(shown) and \(sorted.count - 10) more" : shown
    }
}
