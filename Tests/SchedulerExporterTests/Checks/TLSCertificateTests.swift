import CurlHTTP
import Foundation
import SchedulerSimulator
import Testing
@testable import SchedulerExporter

/// kube_scheduler_tls_cert_self_signed against chains made by openssl and served over real TLS.
@Suite struct TLSCertificateTests {
    /// What kube-scheduler serves without --tls-cert-file: `CN=localhost@<time>` issued by
    /// `CN=localhost-ca@<time>`, with that CA sent along. Subject != issuer, yet self-signed in effect.
    @Test func generatedLeafWithItsOwnCAIsSelfSigned() async throws {
        let directory = try ScratchDirectory()
        let tool = OpenSSLCertificateTool()
        let stamp = "1767225600"
        try await tool.makeCertificateAuthority(certificatePath: directory.file("ca.crt"), keyPath: directory.file("ca.key"),
                                                commonName: "localhost-ca@\(stamp)", validDays: 2)
        let now = Date()
        try await tool.issueCertificate(caCertificatePath: directory.file("ca.crt"), caKeyPath: directory.file("ca.key"),
                                        certificatePath: directory.file("leaf.crt"), keyPath: directory.file("leaf.key"),
                                        commonName: "localhost@\(stamp)", subjectAltNames: ["IP:127.0.0.1", "DNS:localhost"],
                                        usage: .server, notBefore: now - 3_600, notAfter: now + 86_400)
        let chain = try String(contentsOfFile: directory.file("leaf.crt"), encoding: .utf8)
            + String(contentsOfFile: directory.file("ca.crt"), encoding: .utf8)
        let chainFile = try directory.write("chain.crt", chain)

        let snapshot = try await observe { $0.tlsCertificateFile = chainFile; $0.tlsPrivateKeyFile = directory.file("leaf.key") }
        #expect(snapshot.value("kube_scheduler_tls_cert_self_signed") == 1)
    }

    @Test func selfIssuedLeafIsSelfSigned() async throws {
        let directory = try ScratchDirectory()
        try await OpenSSLCertificateTool().makeCertificateAuthority(
            certificatePath: directory.file("self.crt"), keyPath: directory.file("self.key"), commonName: "kube-scheduler", validDays: 2)
        let snapshot = try await observe { $0.tlsCertificateFile = directory.file("self.crt"); $0.tlsPrivateKeyFile = directory.file("self.key") }
        #expect(snapshot.value("kube_scheduler_tls_cert_self_signed") == 1)
    }

    /// The simulator's default: a leaf signed by a CA the server does not send.
    @Test func caSignedLeafServedAloneIsNotSelfSigned() async throws {
        let snapshot = try await observe { _ in }
        #expect(snapshot.value("kube_scheduler_tls_cert_self_signed") == 0)
        #expect(snapshot.value("kube_scheduler_tls_verified") == 1)
    }

    @Test func chainRules() {
        func cert(_ subject: String, _ issuer: String) -> CertificateInfo {
            CertificateInfo(subject: subject, issuer: issuer, notBefore: nil, notAfter: nil)
        }
        #expect(TLSCheck.isSelfSigned(chain: []) == nil)
        #expect(TLSCheck.isSelfSigned(chain: [cert("CN = a", "CN = a")]) == true)
        #expect(TLSCheck.isSelfSigned(chain: [cert("CN = leaf", "CN = ca")]) == false)
        #expect(TLSCheck.isSelfSigned(chain: [cert("CN = leaf", "CN = ca"), cert("CN = ca", "CN = ca")]) == true)
        // An intermediate sent along is not a root the server made up.
        #expect(TLSCheck.isSelfSigned(chain: [cert("CN = leaf", "CN = intermediate"), cert("CN = intermediate", "CN = root")]) == false)
        // A self-signed certificate that did not issue the leaf is unrelated.
        #expect(TLSCheck.isSelfSigned(chain: [cert("CN = leaf", "CN = ca"), cert("CN = other", "CN = other")]) == false)
    }

    private func observe(_ configure: (inout SimulatorConfiguration) -> Void) async throws -> TargetSnapshot {
        let simulator = try await SimulatorTarget.start(configure)
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        return await makePoller(simulator.target(), client: client).pollOnce()
    }
}
