import CurlHTTP
import Exposition

/// The serving certificate and TLS version, observed on fresh connections (libcurl reports the
/// chain only when it makes a new connection): one that accepts anything to see what the server
/// offers, one that verifies against the configured CA to see whether a client could trust it, and
/// one that offers only TLS 1.0 and 1.1. A server accepting 1.0-1.3 negotiates 1.3 with any modern
/// client, so only that last handshake tells whether it still accepts the broken versions.
public struct TLSCheck: Check {
    public static let certificateEntry = SecurityChecks.Entry(
        check: "serving_certificate_valid", cisID: "", severity: .medium,
        remediation: "serve a certificate signed by the cluster CA (--tls-cert-file/--tls-private-key-file) and renew it before it expires")
    public static let versionEntry = SecurityChecks.Entry(
        check: "tls_min_version", cisID: "", severity: .high,
        remediation: "set --tls-min-version=VersionTLS12 (or 13)")

    static let observe = ProbeRequest("tls_observe", path: "/healthz", credential: .anonymous, transport: .observe)
    static let verify = ProbeRequest("tls_verify", path: "/healthz", credential: .anonymous, transport: .verify)
    static let legacy = ProbeRequest("tls_legacy", path: "/healthz", credential: .anonymous, transport: .legacyOnly)

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.certificateEntry, Self.versionEntry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] {
        URLParts(target.url)?.scheme == "https" ? [Self.observe, Self.verify, Self.legacy] : []
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
        if let selfSigned = observed.flatMap({ Self.isSelfSigned(chain: $0.certificates) }) {
            families.append(.gauge("kube_scheduler_tls_cert_self_signed",
                                   "1 when the serving certificate is self-signed, or issued by a self-signed CA that the server sends along with it (kube-scheduler without --tls-cert-file serves CN=localhost@<time> issued by CN=localhost-ca@<time>); only a client that trusts that very certificate can verify it.",
                                   value: selfSigned.gaugeValue))
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
            versionFinding(legacy: poll.responses[Self.legacy], negotiated: version),
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

    private func versionFinding(legacy: Result<HTTPResponse, HTTPClientError>?, negotiated: String?) -> SecurityFinding {
        switch legacy {
        case .success(let response)?:
            let version = response.tlsVersion.map(Self.displayName) ?? "TLS below 1.2"
            return SecurityFinding(Self.versionEntry, .fail, "accepts \(version): a handshake offering only TLS 1.0 and 1.1 succeeded")
        case .failure(let error)? where Self.refusesLegacy(error):
            let preferred = negotiated.map { "; negotiates \($0)" } ?? ""
            return SecurityFinding(Self.versionEntry, .pass, "refuses TLS 1.0 and 1.1: a handshake offering only them failed\(preferred)")
        case .failure(let error)?:
            return SecurityFinding(Self.versionEntry, .unknown, "no answer to a handshake offering only TLS 1.0 and 1.1: \(error.kind.rawValue)")
        case nil:
            return SecurityFinding(Self.versionEntry, .unknown, "no handshake offering only TLS 1.0 and 1.1 was made")
        }
    }

    /// A failed legacy-only handshake is the server's refusal, unless the connection never got
    /// that far or this OpenSSL could not offer TLS 1.0/1.1 at all (then the server was never asked).
    static func refusesLegacy(_ error: HTTPClientError) -> Bool {
        guard error.kind == .tlsHandshake else { return false }
        return !["no protocols available", "no ciphers available", "cipher list"].contains { error.message.contains($0) }
    }

    /// Whether an observation is an answer worth keeping for the evidence interval (`EvidenceCache`):
    /// a refused legacy handshake is the answer that check wants, not a failure to retry.
    static func observationStands(_ request: ProbeRequest, _ outcome: Result<HTTPResponse, HTTPClientError>) -> Bool {
        switch outcome {
        case .success: true
        case .failure(let error): request.transport == .legacyOnly && refusesLegacy(error)
        }
    }

    /// A self-issued leaf, or a leaf whose issuer is a self-issued certificate of the same served
    /// chain: a root the server ships itself proves nothing, so that chain is no more verifiable
    /// than a self-signed leaf (kube-scheduler's generated pair without --tls-cert-file). nil
    /// without a chain (a reused connection reports none).
    static func isSelfSigned(chain: [CertificateInfo]) -> Bool? {
        guard let leaf = chain.first else { return nil }
        if leaf.isSelfSigned { return true }
        return chain.dropFirst().contains { $0.isSelfSigned && $0.subject == leaf.issuer }
    }

    /// OpenSSL calls TLS 1.0 "TLSv1", which reads like "some TLS 1.x".
    static func displayName(_ version: String) -> String { version == "TLSv1" ? "TLSv1.0" : version }
}
