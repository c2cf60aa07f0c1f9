import CurlHTTP
import Exposition

/// The serving certificate and TLS version, observed on fresh connections (libcurl reports the
/// chain only when it makes a new connection): one that accepts anything to see what the server
/// offers, one that verifies against the configured CA to see whether a client could trust it.
public struct TLSCheck: Check {
    public static let certificateEntry = SecurityChecks.Entry(
        check: "serving_certificate_valid", cisID: "", severity: .medium,
        remediation: "serve a certificate signed by the cluster CA (--tls-cert-file/--tls-private-key-file) and renew it before it expires")
    public static let versionEntry = SecurityChecks.Entry(
        check: "tls_min_version", cisID: "", severity: .high,
        remediation: "set --tls-min-version=VersionTLS12 (or 13)")

    static let observe = ProbeRequest("tls_observe", path: "/healthz", credential: .anonymous, transport: .observe)
    static let verify = ProbeRequest("tls_verify", path: "/healthz", credential: .anonymous, transport: .verify)

    public init() {}

    public func requests(for target: TargetConfig) -> [ProbeRequest] {
        URLParts(target.url)?.scheme == "https" ? [Self.observe, Self.verify] : []
    }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        guard URLParts(context.target.url)?.scheme == "https" else {
            return CheckOutput(findings: [
                SecurityFinding(Self.certificateEntry, .fail, "the target is plain HTTP"),
                SecurityFinding(Self.versionEntry, .fail, "the target is plain HTTP"),
            ])
        }
        var families: [OutputFamily] = []
        let observed = poll.response(Self.observe)
        let leaf = observed?.certificates.first
        if let notAfter = leaf?.notAfter {
            families.append(.gauge("kube_scheduler_tls_cert_not_after_timestamp_seconds",
                                   "Unix time when the scheduler's serving certificate expires; less than 30 days away is bad.", value: notAfter))
        }
        if let notBefore = leaf?.notBefore {
            families.append(.gauge("kube_scheduler_tls_cert_not_before_timestamp_seconds",
                                   "Unix time from which the scheduler's serving certificate is valid.", value: notBefore))
        }
        if let leaf {
            families.append(.gauge("kube_scheduler_tls_cert_self_signed",
                                   "1 when the serving certificate is self-signed (subject equals issuer, as kube-scheduler generates without --tls-cert-file); clients cannot verify it.",
                                   value: (leaf.subject == leaf.issuer).gaugeValue))
        }
        let verified: Bool?
        if poll.response(Self.verify) != nil {
            verified = true
        } else if let error = poll.error(Self.verify), error.kind == .tlsVerify {
            verified = false
        } else {
            verified = nil
        }
        if let verified {
            families.append(.gauge("kube_scheduler_tls_verified",
                                   "1 when the serving certificate's chain and name verify against the configured CA; 0 is bad.", value: verified.gaugeValue))
        }
        let version = observed?.tlsVersion
        if let version {
            families.append(.info("kube_scheduler_tls_version_info", "TLS version the scheduler negotiated with the exporter; below TLSv1.2 is bad.",
                                  labels: [("version", version)]))
        }
        return CheckOutput(families: families, findings: [
            certificateFinding(leaf: leaf, verified: verified, context: context),
            versionFinding(version: version, error: poll.error(Self.observe)),
        ])
    }

    private func certificateFinding(leaf: CertificateInfo?, verified: Bool?, context: CheckContext) -> SecurityFinding {
        let minDays = Double(context.target.security.certMinDays)
        if let notAfter = leaf?.notAfter {
            let daysLeft = (notAfter - context.now) / 86_400
            if daysLeft <= 0 { return SecurityFinding(Self.certificateEntry, .fail, "expired \(Int(-daysLeft)) days ago") }
            if daysLeft < minDays { return SecurityFinding(Self.certificateEntry, .fail, "expires in \(Int(daysLeft)) days (< \(Int(minDays)))") }
            if verified == false { return SecurityFinding(Self.certificateEntry, .fail, "does not verify against the configured CA") }
            if verified == true { return SecurityFinding(Self.certificateEntry, .pass, "verified, \(Int(daysLeft)) days left") }
        }
        if verified == false { return SecurityFinding(Self.certificateEntry, .fail, "does not verify against the configured CA") }
        return SecurityFinding(Self.certificateEntry, .unknown, "no certificate observed")
    }

    private func versionFinding(version: String?, error: HTTPClientError?) -> SecurityFinding {
        guard let version else {
            return SecurityFinding(Self.versionEntry, .unknown, error.map { "handshake failed: \($0.kind.rawValue)" } ?? "no TLS version observed")
        }
        let modern = version == "TLSv1.2" || version == "TLSv1.3"
        return SecurityFinding(Self.versionEntry, modern ? .pass : .fail, "negotiated \(version) while offering TLS 1.0-1.3")
    }
}
