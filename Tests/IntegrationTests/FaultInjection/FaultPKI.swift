import Foundation
import SchedulerSimulator

/// Throw-away TLS material: the CA the exporter trusts, a serving certificate from it for
/// 127.0.0.1 and 127.0.0.2, an expired one from the same CA, and one from a CA the exporter does
/// not know. Made by the simulator's openssl-based certificate tool, as every test PKI here is.
struct FaultPKI {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }
    var serverCert: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var expiredCert: String { "\(directory)/expired.pem" }
    var expiredKey: String { "\(directory)/expired.key" }
    var untrustedCert: String { "\(directory)/untrusted.pem" }
    var untrustedKey: String { "\(directory)/untrusted.key" }

    init(in dir: TempDirectory) async throws {
        directory = "\(dir.path)/fault-pki"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tool = OpenSSLCertificateTool()
        for (name, commonName) in [("ca", "Fault Test CA"), ("other-ca", "Unknown Test CA")] {
            try await tool.makeCertificateAuthority(certificatePath: "\(directory)/\(name).pem", keyPath: "\(directory)/\(name).key",
                                              commonName: commonName, validDays: 3)
        }
        let now = Date()
        let day: TimeInterval = 86_400
        for (name, issuer, notBefore, notAfter) in [("server", "ca", now - day, now + 2 * day),
                                                    ("expired", "ca", now - 3 * day, now - day),
                                                    ("untrusted", "other-ca", now - day, now + 2 * day)] {
            try await tool.issueCertificate(caCertificatePath: "\(directory)/\(issuer).pem", caKeyPath: "\(directory)/\(issuer).key",
                                      certificatePath: "\(directory)/\(name).pem", keyPath: "\(directory)/\(name).key",
                                      commonName: "kube-scheduler", subjectAltNames: ["IP:127.0.0.1", "IP:127.0.0.2", "DNS:localhost"],
                                      usage: .server, notBefore: notBefore, notAfter: notAfter)
        }
    }
}
