import Exposition
import Logging

/// A check turns what a poll cycle saw into metric families and, for security checks, findings.
/// Each check lives in its own file, declares the requests it reads and the catalogue entries it
/// judges; `Checks.all` lists them (like node_exporter's collector table), and the catalogue is
/// derived from that list. Checks are pure: the poll stage does all I/O (HTTP, the node's files,
/// its interface addresses) and hands them the result.
public protocol Check: Sendable {
    /// Requests this check reads; the poll cycle fetches each distinct request once.
    func requests(for target: TargetConfig) -> [ProbeRequest]
    func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput
    /// The security checks whose verdicts it returns, in output order (none for metric-only checks).
    var entries: [SecurityChecks.Entry] { get }
    /// Whether the scheduler's /metrics alone is what the check reads, so that it judges a
    /// metrics-only target (a managed control plane) too; the others say `unknown` there.
    var readsOnlyMetrics: Bool { get }
}

extension Check {
    public func requests(for target: TargetConfig) -> [ProbeRequest] { [] }
    public var entries: [SecurityChecks.Entry] { [] }
    public var readsOnlyMetrics: Bool { false }
}

public struct CheckContext: Sendable {
    public var target: TargetConfig
    /// Unix seconds at evaluation, for certificate ages and rates.
    public var now: Double
    public var logger: Logger
    /// configz, flagz, the build info and the manifest, parsed once per cycle for all checks.
    public var evidence: SchedulerEvidence

    public init(target: TargetConfig, now: Double, logger: Logger, evidence: SchedulerEvidence = SchedulerEvidence()) {
        self.target = target
        self.now = now
        self.logger = logger
        self.evidence = evidence
    }
}

public struct CheckOutput: Sendable {
    public var families: [OutputFamily]
    public var findings: [SecurityFinding]
    /// What the check left out of its families because the target sent too much (see `TargetDataLimits`).
    public var dropped: DroppedTargetData

    public init(families: [OutputFamily] = [], findings: [SecurityFinding] = [], dropped: DroppedTargetData = DroppedTargetData()) {
        self.families = families
        self.findings = findings
        self.dropped = dropped
    }
}

/// The verdict of one security check. Never a guess: `unknown` when the evidence is missing.
public struct SecurityFinding: Sendable, Equatable {
    /// A verdict for a catalogue entry; the entry supplies the id, CIS id and severity.
    public init(_ entry: SecurityChecks.Entry, _ status: Status, _ evidence: String) {
        self.init(check: entry.check, cisID: entry.cisID, severity: entry.severity, status: status, evidence: evidence)
    }

    public enum Status: String, Sendable, CaseIterable { case pass, fail, unknown }
    public enum Severity: String, Sendable, CaseIterable { case critical, high, medium, low }

    public var check: String
    public var cisID: String
    public var severity: Severity
    public var status: Status
    /// Why the status is what it is (which evidence), for logs and the README.
    public var evidence: String

    public init(check: String, cisID: String = "", severity: Severity, status: Status, evidence: String) {
        self.check = check
        self.cisID = cisID
        self.severity = severity
        self.status = status
        self.evidence = evidence
    }
}
