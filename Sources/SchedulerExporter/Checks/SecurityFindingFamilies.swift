import Exposition

/// Turns the findings of all security checks into the state-set family (one series per status,
/// exactly one of them 1, as kube-state-metrics does) and the count of failures by severity.
enum SecurityFindingFamilies {
    static func render(_ findings: [SecurityFinding]) -> [OutputFamily] {
        guard !findings.isEmpty else { return [] }
        var states: [OutputSample] = []
        for finding in findings {
            for status in SecurityFinding.Status.allCases {
                states.append(OutputSample(labels: [
                    ("check", finding.check), ("cis_id", finding.cisID),
                    ("severity", finding.severity.rawValue), ("status", status.rawValue),
                ], value: (finding.status == status).gaugeValue))
            }
        }
        let counts = SecurityFinding.Severity.allCases.map { severity in
            OutputSample(labels: [("severity", severity.rawValue)],
                         value: Double(findings.filter { $0.severity == severity && $0.status == .fail }.count))
        }
        return [
            .gauge("kube_scheduler_security_check", SecurityChecks.helpText, states),
            .gauge("kube_scheduler_security_findings", "Number of failing security checks by severity; anything above 0 is a finding to fix.", counts),
        ]
    }
}

/// The catalogue of security checks: id, CIS id, severity and remediation, in one place for the
/// HELP text, the README table and the checks themselves.
public enum SecurityChecks {
    public struct Entry: Sendable {
        public var check: String
        public var cisID: String
        public var severity: SecurityFinding.Severity
        public var remediation: String
    }

    static var helpText: String {
        var text = "Security check verdicts (state set: one series per status, the current one is 1; fail is bad)."
        if !catalogue.isEmpty {
            text += " Remediation: " + catalogue.map { "\($0.check): \($0.remediation)" }.joined(separator: "; ")
        }
        return text
    }
}
