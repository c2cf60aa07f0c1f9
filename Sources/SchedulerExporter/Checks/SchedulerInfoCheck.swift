import Exposition

/// Facts the scheduler states about itself in /metrics: its build and whether it leads.
public struct SchedulerInfoCheck: Check {
    public init() {}

    public func requests(for target: TargetConfig) -> [ProbeRequest] { [.metrics] }

    public var readsOnlyMetrics: Bool { true }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        var families: [OutputFamily] = []
        if let response = poll.response(.metrics), response.httpVersion != .unknown {
            families.append(.info("kube_scheduler_http_version_info",
                                  "Negotiated HTTP version of the exporter's /metrics request to the scheduler (the scheduler offers HTTP/2 via ALPN).",
                                  labels: [("version", response.httpVersion.rawValue)]))
        }
        guard let document = poll.metrics else { return CheckOutput(families: families) }
        if let build = document.family(named: "kubernetes_build_info"), let sample = build.samples.first {
            families.append(.info("kube_scheduler_build_info",
                                  "The scheduler's kubernetes_build_info labels (git_version, git_commit, go_version, ...); always 1.",
                                  labels: sample.labels.map { ($0.name, $0.value) }))
        }
        if let leader = document.family(named: "leader_election_master_status") {
            // One series per lease name; the scheduler has one (kube-scheduler).
            let leads = leader.samples.contains { $0.value == 1 }
            families.append(.gauge("kube_scheduler_leader",
                                   "1 when this scheduler instance holds the leader lease (leader_election_master_status); exactly one scheduler of a cluster should be 1.",
                                   value: leads.gaugeValue))
        }
        return CheckOutput(families: families)
    }
}
